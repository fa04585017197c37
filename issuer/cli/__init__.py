"""The `certmanager` command line (SPEC §3.3): one module per group of commands, each registered
on the `main` group through its `init_app`. JSON goes to stdout; progress and logs to stderr."""

from __future__ import annotations

import click

from issuer.cli import credential_commands, import_commands, key_commands, mail_commands, setup_commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="certmanager-vc")
def main() -> None:
    """CertManager VC: signed, verifiable certifications and transcripts."""


for _module in (setup_commands, import_commands, credential_commands, key_commands, mail_commands):
    _module.init_app(main)
