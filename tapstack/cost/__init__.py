"""A priced bill for a TapStack configuration: ``python -m tapstack cost``.

``estimate`` reads the synthesized templates and prices each resource (``pricers``) with
the unit prices of ``prices.json`` (``prices``) at the load of ``usage``; ``report`` prints
it; ``refresh`` rewrites the prices from the AWS Price List Query API.
"""
