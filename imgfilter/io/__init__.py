"""Input and output: image records (``records``), the bundled sample catalog
(``catalog``), loading into a database (``load``), the command line (``cli``,
``output``)."""
