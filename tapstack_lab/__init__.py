"""TapStack's lab: development tooling that runs the product on one machine, never shipped
with it and never imported by it.

* ``emulator``  moto's server, patched where it falls short of CloudFormation (one patch per
                module under ``tapstack_lab.moto_patches``);
* ``deploy``    the emulator's deployer: the product's ``tapstack.cdk_cli``, plus a read-back
                of what the emulator created;
* ``mariadb``   a private MariaDB server for tests, benchmarks and the demo;
* ``datapath``  the loader against emulated S3 and a local MariaDB;
* ``demo``      ``make demo``: all of it in one command (``python -m tapstack_lab``);
* ``replication`` two MariaDB servers with GTID replication, one per region;
* ``route53_model`` a model of Route 53's health checks and failover answer;
* ``drill``     ``make drill``: a region loss rehearsed with all of the above, the web server
                runtime, the loader and the operator commands' orchestration.
"""
