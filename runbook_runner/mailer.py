"""SMTP delivery: one connection, STARTTLS and AUTH as configured, bounded timeouts.

The password comes from the environment variable the ``[smtp]`` section names
or from an ansible-vault file; it lives in a :class:`Secret`, whose ``repr`` and
``str`` hide it, and every error text built from a server reply or an
exception is passed through :meth:`Secret.redact` before it is logged, stored
or shown. smtplib's debug output (which would show the AUTH exchange) stays off.

Errors are sorted for the outbox: a *connection-level* failure (server down,
timeout, TLS, authentication) fails every message of the flush, a
*message-level* one (a recipient or the data refused) only that message.
"""

import base64
import logging
import os
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import yaml

from runbook_runner.errors import ConfigError, RunbookError

log = logging.getLogger(__name__)

SECURITY_MODES = ("starttls", "tls", "none")
DEFAULT_PASSWORD_ENV = "RUNBOOK_SMTP_PASSWORD"
DEFAULT_VAULT_KEY = "batiknet_smtp_password"


class DeliveryError(RunbookError):
    """The SMTP server did not take a message.

    ``kind`` is one of ``unreachable``, ``timeout``, ``tls``, ``auth``,
    ``refused`` (a 5xx reply), ``deferred`` (a 4xx reply) or ``protocol``;
    ``connection_level`` says whether the failure hits every message of the
    flush rather than this one only.
    """

    def __init__(self, message: str, *, kind: str, connection_level: bool) -> None:
        super().__init__(message, hint=_HINTS.get(kind))
        self.kind = kind
        self.connection_level = connection_level


_HINTS = {
    "unreachable": "the message stays pending; check [smtp] host and port, then "
    "`runbook outbox flush`",
    "timeout": "the message stays pending; raise [smtp] timeout_seconds if the server is slow",
    "tls": "check [smtp] security and ca_file",
    "auth": "check [smtp] username and the password (environment variable or vault)",
    "refused": "fix the address or the content, then `runbook outbox retry NAME`",
}


class Secret:
    """A password that never shows itself in a log, a repr or a message."""

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the password itself, for the one call that needs it."""
        return self._value

    def redact(self, text: str) -> str:
        """Return ``text`` with the password and its base64 forms replaced by ``***``."""
        if not self._value:
            return text
        forms = {self._value, base64.b64encode(self._value.encode()).decode()}
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, "***")
        return text

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


NO_SECRET = Secret("")


@dataclass(frozen=True)
class SmtpSettings:
    """The ``[smtp]`` section: where and how to deliver."""

    host: str = ""
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password_env: str = DEFAULT_PASSWORD_ENV
    password_vault: Path | None = None
    password_vault_key: str = DEFAULT_VAULT_KEY
    vault_password_file: Path | None = None
    ca_file: Path | None = None
    timeout_seconds: float = 20.0
    local_hostname: str | None = None
    allow_insecure_auth: bool = False

    @property
    def enabled(self) -> bool:
        """Return whether delivery is configured (a host is set)."""
        return bool(self.host)

    @classmethod
    def from_mapping(cls, section: Mapping[str, Any], base_dir: Path) -> "SmtpSettings":
        """Return the settings of an ``[smtp]`` table; relative paths are from ``base_dir``.

        Raises:
            ConfigError: a key is unknown or a value has the wrong type or range.
        """
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(section) - known)
        if unknown:
            raise ConfigError(
                f"unknown key [smtp] {unknown[0]} in the configuration",
                hint=f"use one of: {', '.join(sorted(known))}",
            )
        values = dict(section)
        for key in ("password_vault", "vault_password_file", "ca_file"):
            if values.get(key):
                values[key] = base_dir / Path(str(values[key])).expanduser()
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Check the values that the types alone do not.

        Raises:
            ConfigError: the security mode, port or timeout is out of range, or a
                password would travel in clear.
        """
        if self.security not in SECURITY_MODES:
            raise ConfigError(
                f"[smtp] security = {self.security!r} is not a known mode",
                hint=f"use one of: {', '.join(SECURITY_MODES)}",
            )
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ConfigError(f"[smtp] port = {self.port!r} is not a TCP port")
        if not isinstance(self.timeout_seconds, int | float) or not 0 < self.timeout_seconds <= 300:
            raise ConfigError(
                f"[smtp] timeout_seconds = {self.timeout_seconds!r} is out of range",
                hint="use a number of seconds between 1 and 300",
            )
        if self.ca_file is not None and not self.ca_file.is_file():
            raise ConfigError(
                f"[smtp] ca_file: {self.ca_file} does not exist",
                hint="give the path of a PEM file, relative to the configuration file",
            )
        if self.username and self.security == "none" and not self.allow_insecure_auth:
            raise ConfigError(
                "[smtp] username is set but security = 'none' would send the password in clear",
                hint="use security = 'starttls' or 'tls' (or set allow_insecure_auth = true)",
            )


def load_password(settings: SmtpSettings, environ: Mapping[str, str] | None = None) -> Secret:
    """Return the SMTP password: the environment variable first, then the vault file.

    Raises:
        ConfigError: a username is set and neither source holds a password, or
            the vault cannot be opened.
    """
    if not settings.username:
        return NO_SECRET
    environ = os.environ if environ is None else environ
    value = environ.get(settings.password_env, "")
    if value:
        return Secret(value)
    if settings.password_vault:
        return Secret(_read_vault(settings, environ))
    raise ConfigError(
        f"no SMTP password for {settings.username!r}: {settings.password_env} is not set",
        hint=f"export {settings.password_env}, or set [smtp] password_vault to an "
        "ansible-vault file holding it",
    )


def _read_vault(settings: SmtpSettings, environ: Mapping[str, str]) -> str:
    from ansible.constants import DEFAULT_VAULT_ID_MATCH
    from ansible.errors import AnsibleError
    from ansible.parsing.vault import VaultLib, VaultSecret

    vault_file = settings.password_vault
    key_file = settings.vault_password_file or environ.get("ANSIBLE_VAULT_PASSWORD_FILE")
    if not key_file:
        raise ConfigError(
            f"cannot open the vault {vault_file}: no vault password file",
            hint="set [smtp] vault_password_file or ANSIBLE_VAULT_PASSWORD_FILE",
        )
    try:
        key = Path(key_file).read_bytes().strip()
        vault = VaultLib([(DEFAULT_VAULT_ID_MATCH, VaultSecret(key))])
        document = yaml.safe_load(vault.decrypt(Path(str(vault_file)).read_bytes()))
    except (OSError, AnsibleError, yaml.YAMLError) as error:
        raise ConfigError(
            f"cannot open the vault {vault_file}: {type(error).__name__}",
            hint="check the vault file and its password file",
        ) from None
    value = document.get(settings.password_vault_key) if isinstance(document, dict) else None
    if not isinstance(value, str) or not value:
        raise ConfigError(
            f"the vault {vault_file} holds no {settings.password_vault_key}",
            hint=f"add `{settings.password_vault_key}: ...` with `ansible-vault edit {vault_file}`",
        )
    return value


class SmtpSession:
    """One SMTP connection, opened on entering and closed on leaving."""

    def __init__(self, settings: SmtpSettings, password: Secret = NO_SECRET) -> None:
        self.settings = settings
        self.password = password
        self._smtp: smtplib.SMTP | None = None

    @property
    def server(self) -> str:
        """Return ``host:port``, for messages."""
        return f"{self.settings.host}:{self.settings.port}"

    def __enter__(self) -> Self:
        """Connect, secure and authenticate.

        Raises:
            DeliveryError: connection-level, for any failure.
        """
        try:
            self._smtp = self._open()
        except (OSError, smtplib.SMTPException) as error:
            raise self._error(error, connection_level=True) from None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._smtp is None:
            return
        try:
            self._smtp.quit()
        except (OSError, smtplib.SMTPException):
            self._smtp.close()
        self._smtp = None

    def send(self, sender: str, recipients: Sequence[str], data: bytes) -> dict[str, str]:
        """Deliver one message; return the recipients the server refused, with its reply.

        Raises:
            DeliveryError: the server took the message for no recipient (message
                level) or the connection failed (connection level).
        """
        if self._smtp is None:
            raise DeliveryError("no SMTP connection", kind="protocol", connection_level=True)
        if not recipients:
            raise DeliveryError(
                "the message has no recipient in To or Cc", kind="refused", connection_level=False
            )
        try:
            refused = self._smtp.sendmail(sender, list(recipients), data)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as error:
            raise self._error(error, connection_level=False) from None
        except smtplib.SMTPDataError as error:
            raise self._error(error, connection_level=False) from None
        except ValueError as error:
            # smtplib encodes addresses as ASCII; a foreign .eml may hold others.
            raise DeliveryError(
                f"{self.server}: an address cannot be sent: {error}",
                kind="refused",
                connection_level=False,
            ) from None
        except (OSError, smtplib.SMTPException) as error:
            raise self._error(error, connection_level=True) from None
        return {address: self._reply(code, text) for address, (code, text) in refused.items()}

    def _open(self) -> smtplib.SMTP:
        settings = self.settings
        context = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None
        )
        if settings.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, local_hostname=settings.local_hostname,
                timeout=settings.timeout_seconds, context=context,
            )  # fmt: skip
        else:
            smtp = smtplib.SMTP(
                settings.host, settings.port, local_hostname=settings.local_hostname,
                timeout=settings.timeout_seconds,
            )  # fmt: skip
        try:
            smtp.ehlo()
            if settings.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if settings.username:
                smtp.login(settings.username, self.password.reveal())
        except BaseException:
            smtp.close()
            raise
        log.debug("%s: connected (%s)", self.server, settings.security)
        return smtp

    def _reply(self, code: int, text: bytes | str) -> str:
        decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        return self.password.redact(f"{code} {decoded}".strip())

    def _error(self, error: BaseException, *, connection_level: bool) -> DeliveryError:
        kind, detail = self._classify(error)
        return DeliveryError(
            self.password.redact(f"{self.server}: {detail}"),
            kind=kind,
            connection_level=connection_level,
        )

    def _classify(self, error: BaseException) -> tuple[str, str]:
        if isinstance(error, smtplib.SMTPRecipientsRefused):
            replies = [self._reply(code, text) for code, text in error.recipients.values()]
            codes = [code for code, _ in error.recipients.values()]
            kind = "deferred" if codes and all(400 <= c < 500 for c in codes) else "refused"
            return kind, f"every recipient refused: {'; '.join(replies)}"
        if isinstance(error, smtplib.SMTPAuthenticationError):
            return (
                "auth",
                f"authentication failed: {self._reply(error.smtp_code, error.smtp_error)}",
            )
        if isinstance(error, smtplib.SMTPResponseException):
            kind = "deferred" if 400 <= error.smtp_code < 500 else "refused"
            return kind, f"refused: {self._reply(error.smtp_code, error.smtp_error)}"
        # smtplib reports a read timeout as a disconnection caused by the timeout.
        if isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):
            return "timeout", f"no answer within {self.settings.timeout_seconds:g} s"
        if isinstance(error, ssl.SSLError | ssl.CertificateError):
            return "tls", f"TLS failed: {getattr(error, 'reason', None) or error}"
        if isinstance(error, smtplib.SMTPNotSupportedError):
            return "tls", f"the server does not offer what [smtp] asks: {error}"
        if isinstance(error, smtplib.SMTPServerDisconnected):
            return "unreachable", f"connection closed: {error}"
        if isinstance(error, OSError):
            return "unreachable", f"cannot connect: {error.strerror or error}"
        return "protocol", f"{type(error).__name__}: {error}"
