"""Command-line interface: one sub-module per group of commands, each exposing ``register``."""
