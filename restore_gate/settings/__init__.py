"""Stage `config`: the configuration file and the base commit's settings."""
