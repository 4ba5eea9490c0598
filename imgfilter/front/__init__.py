"""Front end: the query text (``parse``, with the grammar in ``imgfilter.grammar``)
checked against the parameter table (``params``, ``check``) into the syntax tree
(``ast``), or errors (``errors``)."""
