"""asv benchmarks of edlrr (see README.md in this folder and ../asv.conf.json)."""
