"""The failover drill: a region loss rehearsed on one machine with real parts (MariaDB GTID
replication, the web server runtime, the loader against emulated S3, the operator commands'
orchestration) and one model (Route 53). ``python -m tapstack_lab.drill`` (``make drill``)."""
