"""The Lark grammar of imgfilter, installed as the package ``imgfilter.grammar``."""
