"""The lowered form: a checked query and its caller (``context``) turned into one
small closed predicate form that every target spells."""
