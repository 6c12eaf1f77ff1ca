"""The operator's dashboard in the admin: a period's traffic, money and trouble on one page.

``periods`` turns the period asked for into time buckets, ``queries`` reads each panel's
figures as database aggregates (a fixed number of queries whatever the number of messages),
``svg`` draws them as server-side SVG (no script, nothing fetched: the admin works offline)
and ``views`` puts them on the page.
"""
