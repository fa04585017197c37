"""One exception root for every key failure; each subclass has a stable code."""


class KeyError_(Exception):  # noqa: N801 - trailing underscore avoids shadowing the builtin
    """Root of every error raised by the keys package."""

    code = "key_error"


class UnsupportedAlgorithm(KeyError_):
    code = "unsupported_algorithm"


class KeyDecryptionError(KeyError_):
    """The passphrase does not open the stored private key (or the blob is damaged)."""

    code = "key_decryption_failed"


class NoActiveKey(KeyError_):
    code = "no_active_key"


class KeyNotUsable(KeyError_):
    """The key exists but its state forbids the operation (e.g. signing with a retired key)."""

    code = "key_not_usable"
