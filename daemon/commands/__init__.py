"""Subcommands of ``tradingd``; each module exposes ``register(subparsers)``.

A subcommand's handler takes the parsed ``argparse.Namespace`` and returns an exit code.
"""
