"""TapStack: a two-region, failover-ready web platform on AWS."""
