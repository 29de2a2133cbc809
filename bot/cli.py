"""The `krasip` command: init, serve, worker, keys, outbox, richmenu, demo."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import urllib3
from dotenv import load_dotenv

from bot.config import ConfigError, Settings, load_settings
from bot.runtime import Runtime, build_runtime, utc_now
from store import audit as audit_log
from store import migrate, outbox, repo
from store.crypto import (
    CryptoError,
    IdentityPrivateKey,
    IdentityPublicKey,
    LegacySealedIdentity,
    MisplacedCiphertext,
    WrongPassphrase,
    is_bound_identity,
)
from store.demo import Vocabulary
from store.keys import (
    IDENTITY_PUBLIC,
    ensure_dev_keys,
    generate_keys,
    load_private_key,
    new_passphrase,
    private_folder,
)
from store.models import Case

BANNER = "!" * 72


def _settings(
    default_env: str | None = None, *, audit_optional: bool = False, **overrides: Any
) -> Settings:
    environ: Mapping[str, str] = os.environ
    if "KRASIP_ENV" not in environ:
        # An instance folder that `krasip init` gave development keys is a development
        # instance; anything else is production, where missing secrets stop the command.
        instance = Path(environ.get("KRASIP_INSTANCE") or "instance")
        if default_env is None and (instance / "keys" / IDENTITY_PUBLIC).exists():
            default_env = "development"
        if default_env:
            environ = {**environ, "KRASIP_ENV": default_env}
    try:
        return load_settings(environ, overrides, audit_optional=audit_optional)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def main() -> None:
    """Krasip (กระซิบ): report corruption in Bangkok's city administration through LINE."""
    load_dotenv(Path.cwd() / ".env")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


def _init(settings: Settings) -> Settings:
    private_folder(settings.instance_path)
    if settings.development:
        passphrase = ensure_dev_keys(settings.instance_path / "keys")
        if passphrase:
            click.echo(BANNER, err=True)
            click.echo(
                "DEVELOPMENT KEYS created in " + str(settings.instance_path / "keys"), err=True
            )
            click.echo("They protect nothing real: never use them for real reports.", err=True)
            click.echo("Custodian passphrase for identity_private.json (shown only now):", err=True)
            click.echo("    " + passphrase, err=True)
            click.echo(BANNER, err=True)
        settings = _settings("development", instance_path=settings.instance_path)
    elif settings.keys is None:
        raise click.ClickException("production keys are not configured: see `krasip keys generate`")
    keyring = settings.keys.keyring() if settings.keys else None
    migrate.upgrade(settings.database_url, keyring=keyring)
    return settings


@main.command()
def init() -> None:
    """Create or upgrade the database schema; in development, create keys when absent."""
    settings = _init(_settings("development"))
    click.echo(f"database ready at revision {migrate.current(settings.database_url)}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, help="the bot's port")
@click.option("--emulator-port", default=8090, show_default=True)
def serve(host: str, port: int, emulator_port: int) -> None:
    """Run the bot, the worker and the LINE emulator together, on development defaults."""
    import emulator
    from bot import create_app
    from bot.worker import Worker
    from emulator.server import EmulatorServer

    base = _settings("development")
    if not base.development:
        raise click.ClickException("`krasip serve` is for development; unset KRASIP_ENV")
    emulator_url = f"http://{host}:{emulator_port}"
    os.environ.update(
        {
            "KRASIP_ENV": "development",
            "LINE_API_BASE_URL": emulator_url,
            "LINE_DATA_API_BASE_URL": emulator_url,
        }
    )
    settings = _init(_settings("development", public_url=f"http://{host}:{port}"))
    app = create_app(settings)
    emu = EmulatorServer(
        emulator.create_app(
            channel_secret=settings.line_channel_secret,
            access_token=settings.line_channel_access_token,
            webhook_url=f"http://{host}:{port}/callback",
        ),
        host=host,
        port=emulator_port,
    )
    bot_server = EmulatorServer(app, host=host, port=port)
    stop = threading.Event()
    worker = Worker(app.extensions["krasip"])
    worker_thread = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
    emu.start()
    bot_server.start()
    worker_thread.start()
    click.echo("")
    click.echo(f"  Krasip bot:       {bot_server.url}/callback  (health: {bot_server.url}/healthz)")
    click.echo(f"  LINE chat (open): {emu.url}/")
    click.echo(
        f"  Staff console:    {bot_server.url}/console/  (first admin: "
        "`krasip staff add NAME --role admin`)"
    )
    click.echo("  Press Ctrl+C to stop.")
    click.echo("")
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    stop.set()
    bot_server.stop()
    emu.stop()
    worker_thread.join(timeout=5)


@main.command()
@click.option("--once", is_flag=True, help="run every job once and exit")
def worker(once: bool) -> None:
    """Deliver the outbox, fetch media, clean expired drafts — until stopped."""
    from bot.worker import Worker

    try:
        runtime = build_runtime(_settings())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    job = Worker(runtime)
    if once:
        click.echo(str(job.run_once()))
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    job.run_forever(stop)


# --- keys ------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Generate production keys; open a sealed identity (custodians only, audited)."""


@keys.command("generate")
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    required=True,
    help="an empty folder for the new key files",
)
@click.option(
    "--passphrase-file",
    type=click.Path(exists=True, path_type=Path),
    help="read the custodian passphrase from this file instead of generating one",
)
def keys_generate(out: Path, passphrase_file: Path | None) -> None:
    """Create a production key set: identity key pair, data key, lookup pepper."""
    passphrase = passphrase_file.read_text().strip() if passphrase_file else new_passphrase()
    try:
        material = generate_keys(out, passphrase)
    except CryptoError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Keys written to {out} (private files are mode 0600).")
    click.echo("Give the server these (as files, via the *_FILE variables):")
    click.echo(f"  KRASIP_IDENTITY_PUBLIC_KEY_FILE={out / 'identity_public.txt'}")
    click.echo(f"  KRASIP_DATA_KEYS_FILE={out / 'data_keys.txt'}")
    click.echo(f"  KRASIP_LOOKUP_PEPPER_FILE={out / 'lookup_pepper.txt'}")
    click.echo(f"  KRASIP_AUDIT_KEY_FILE={out / 'audit_key.txt'}")
    click.echo(f"  KRASIP_AUDIT_SIGNING_KEY_FILE={out / 'audit_signing_key.txt'}")
    click.echo("Keep every key file out of database backups: the audit keys above are what")
    click.echo("lets `krasip audit verify` tell a rewritten audit log from a true one.")
    click.echo(f"Give the custodian {out / 'identity_private.json'} — never the server.")
    if not passphrase_file:
        click.echo(BANNER, err=True)
        click.echo("Custodian passphrase (shown only now; write it down offline):", err=True)
        click.echo("    " + passphrase, err=True)
        click.echo(BANNER, err=True)
    del material


def _custodian_key(private_key: Path, passphrase: str) -> IdentityPrivateKey:
    try:
        return load_private_key(private_key, passphrase)
    except WrongPassphrase as exc:
        raise click.ClickException("the passphrase does not open this key file") from exc
    except CryptoError as exc:
        raise click.ClickException(str(exc)) from exc


@keys.command("open")
@click.argument("case_number")
@click.option("--private-key", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--reason", required=True, help="why the identity must be opened (audited)")
@click.option("--actor", required=True, help="the custodian's name (audited)")
@click.option(
    "--passphrase",
    prompt=True,
    hide_input=True,
    help="the custodian passphrase (prompted, hidden, when not given)",
)
def keys_open(
    case_number: str, private_key: Path, reason: str, actor: str, passphrase: str
) -> None:
    """Open the sealed identity of one case. The opening is written to the audit log first."""
    if len(reason.strip()) < 10:
        raise click.ClickException("give a real reason (at least 10 characters)")
    key = _custodian_key(private_key, passphrase)
    runtime = build_runtime(_settings())
    from sqlalchemy import select

    refused: CryptoError | None = None
    with runtime.db.transaction() as session:
        case = session.scalars(select(Case).where(Case.number == case_number.strip())).first()
        if case is None:
            raise click.ClickException(f"no case {case_number}")
        number = case.number
        try:
            held = repo.sealed_identity(runtime.keys, case)
            if held is None:
                raise click.ClickException(f"{number} is anonymous: there is no identity to open")
            identity = key.open(held.sealed, held.case_number, draft=held.draft)
        except (LegacySealedIdentity, MisplacedCiphertext) as exc:
            # Recorded as refused, never as an opening of this case's identity.
            refused = exc
            kind = "legacy" if isinstance(exc, LegacySealedIdentity) else "misplaced"
            repo.audit(
                session,
                actor=actor,
                action="identity.open_refused",
                now=utc_now(),
                case_id=case.id,
                detail=f"cli; {kind}",
            )
        except CryptoError as exc:
            raise click.ClickException(str(exc)) from exc
        else:
            repo.audit(
                session,
                actor=actor,
                action="identity.open",
                now=utc_now(),
                case_id=case.id,
                detail=f"cli; reason: {reason.strip()}",
            )
    if refused is not None:
        raise click.ClickException(str(refused))
    click.echo(f"Identity of {number} (this opening has been audited):")
    for field_name, value in sorted(identity.items()):
        click.echo(f"  {field_name}: {value}")


@keys.command("rebind")
@click.option("--private-key", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--actor", required=True, help="the custodian's name (audited)")
@click.option(
    "--passphrase",
    prompt=True,
    hide_input=True,
    help="the custodian passphrase (prompted, hidden, when not given)",
)
def keys_rebind(private_key: Path, actor: str, passphrase: str) -> None:
    """Re-seal identities sealed before they were bound to their case (custodians only).

    Each old-form identity is opened with the private key, in memory only, and sealed
    again bound to the number of the case it is on; each re-sealing is audited. Nothing
    opened is printed. Run it once after upgrading; it skips rows already bound.
    """
    key = _custodian_key(private_key, passphrase)
    from sqlalchemy import select

    runtime = build_runtime(_settings())
    if key.public_key().fingerprint() != runtime.keys.identity.fingerprint():
        raise click.ClickException("this private key does not match the server's public key")
    rebound, failed = 0, []
    with runtime.db.transaction() as session:
        legacy = session.scalars(
            select(Case).where(Case.identity_sealed.is_not(None)).order_by(Case.id)
        ).all()
        for case in legacy:
            assert case.identity_sealed is not None
            if is_bound_identity(case.identity_sealed):
                continue
            try:
                repo.rebind_identity(runtime.keys, case, key.open_legacy(case.identity_sealed))
            except CryptoError:
                failed.append(case.number)
                continue
            repo.audit(
                session,
                actor=actor,
                action="identity.rebind",
                now=utc_now(),
                case_id=case.id,
                detail="cli; re-sealed bound to the case number",
            )
            rebound += 1
    click.echo(f"{rebound} identit{'y' if rebound == 1 else 'ies'} re-sealed bound to their case")
    if failed:
        raise click.ClickException(
            f"{len(failed)} could not be opened with this key (left as they were): "
            + ", ".join(failed)
        )


def _public_key_arg(value: str) -> IdentityPublicKey:
    """``--new-public``: the key's text (krasip-idpk:…) or a file holding it."""
    text = value
    if not value.strip().startswith("krasip-idpk:"):
        try:
            text = Path(value).read_text()
        except OSError as exc:
            raise click.ClickException(
                f"{value} is neither a public key nor a readable file"
            ) from exc
    try:
        return IdentityPublicKey.from_text(text)
    except CryptoError as exc:
        raise click.ClickException(str(exc)) from exc


@keys.command("reseal")
@click.option("--private-key", type=click.Path(exists=True, path_type=Path), required=True)
@click.option(
    "--new-public",
    required=True,
    help="the new custodian public key (krasip-idpk:…), or the file identity_public.txt",
)
@click.option("--actor", default="custodian", show_default=True, help="who runs it (audited)")
@click.option("--batch-size", type=click.IntRange(min=1), default=25, show_default=True)
@click.option(
    "--passphrase",
    prompt=True,
    hide_input=True,
    help="the old key's custodian passphrase (prompted, hidden, when not given)",
)
def keys_reseal(
    private_key: Path, new_public: str, actor: str, batch_size: int, passphrase: str
) -> None:
    """Re-seal every sealed identity to a new custodian key (custodians only, audited).

    The old private key is read into memory only. Each identity is opened field by field
    and sealed again to the new key at once, in short transactions; every re-sealing is
    audited. Stopped, it can be run again: it carries on where it was. Afterwards the
    server must be configured with the new public key (KRASIP_IDENTITY_PUBLIC_KEY_FILE).
    """
    from store.reseal import reseal_all, sealed_count

    old = _custodian_key(private_key, passphrase)
    new = _public_key_arg(new_public)
    runtime = build_runtime(_settings())
    total = sealed_count(runtime.db)
    click.echo(
        f"re-sealing {total} identit{'y' if total == 1 else 'ies'} from key "
        f"{old.public_key().fingerprint()} to key {new.fingerprint()}",
        err=True,
    )
    try:
        with click.progressbar(length=total, label="Re-sealing", file=sys.stderr) as bar:
            result = reseal_all(
                runtime.db,
                runtime.keys,
                old,
                new,
                actor=actor,
                clock=utc_now,
                batch_size=batch_size,
                progress=bar.update,
            )
    except CryptoError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        runtime.close()
    click.echo(
        f"{result.resealed} re-sealed to key {new.fingerprint()}, "
        f"{result.unchanged} were already under it"
    )
    if runtime.keys.identity.fingerprint() != new.fingerprint():
        click.echo(BANNER, err=True)
        click.echo("NOW configure the server with the new public key, and restart it:", err=True)
        click.echo("  KRASIP_IDENTITY_PUBLIC_KEY_FILE=<the new identity_public.txt>", err=True)
        click.echo("Until then new reports are sealed to the old key: run this again", err=True)
        click.echo("after the switch (it only moves what is still under the old key).", err=True)
        click.echo(BANNER, err=True)
    else:
        click.echo("the server is configured with the new public key")
    if result.failed:
        raise click.ClickException(
            f"{len(result.failed)} could not be re-sealed with this key (left as they were): "
            + ", ".join(result.failed)
        )


# --- backup and restore ----------------------------------------------------------------


def _backup_key_option(func: Any) -> Any:
    return click.option(
        "--key-file",
        type=click.Path(path_type=Path),
        envvar="KRASIP_BACKUP_KEY_FILE",
        required=True,
        help="the backup key (env KRASIP_BACKUP_KEY_FILE); keep it apart from the backups",
    )(func)


@main.command("backup")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="the backup file")
@_backup_key_option
def backup_command(out: Path, key_file: Path) -> None:
    """Write a consistent, encrypted snapshot of the database (SQLite online backup, or
    pg_dump for PostgreSQL). A missing key file is created (0600) on the first run."""
    from store import backup as snapshot

    settings = _settings()
    if out.exists():
        raise click.ClickException(f"{out} exists already; choose a new name for each backup")
    if not key_file.exists():
        snapshot.write_key_file(key_file)
        click.echo(
            f"new backup key written to {key_file}: keep it apart from the backups", err=True
        )
    key = snapshot.read_key_file(key_file)
    written = 0

    def shown(size: int) -> None:
        nonlocal written
        written += size
        click.echo(f"\r  {written / 1048576:,.1f} MiB", nl=False, err=True)

    try:
        kind = snapshot.backup(settings.database_url, out, key, progress=shown)
    except snapshot.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("", err=True)
    click.echo(f"{kind} backup written to {out} ({out.stat().st_size:,} bytes, encrypted)")


@main.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_backup_key_option
def restore_command(source: Path, key_file: Path) -> None:
    """Bring a backup into an empty instance (DATABASE_URL); refuses a database that
    holds anything. Then run `krasip init` to upgrade it, and `krasip audit verify`."""
    from store import backup as snapshot

    settings = _settings()
    read = 0

    def shown(size: int) -> None:
        nonlocal read
        read += size
        click.echo(f"\r  {read / 1048576:,.1f} MiB", nl=False, err=True)

    try:
        key = snapshot.read_key_file(key_file)
        kind = snapshot.restore(settings.database_url, source, key, progress=shown)
    except snapshot.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("", err=True)
    click.echo(f"{kind} backup {source} restored; check it with `krasip audit verify`")


# --- data-key rotation (README "Rotating keys") -----------------------------------------


def _data_keys_file(settings: Settings, given: Path | None) -> Path:
    if given is not None:
        return given
    folder_file = settings.instance_path / "keys" / "data_keys.txt"
    if settings.development and folder_file.exists():
        return folder_file
    raise click.ClickException("say which data keys file to change: --keys-file FILE")


@keys.command("rotate")
@click.option(
    "--new-key",
    is_flag=True,
    help="put a new data key first in the data keys file (then restart, then rotate)",
)
@click.option(
    "--keys-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="KRASIP_DATA_KEYS_FILE",
    help="the data keys file (default: KRASIP_DATA_KEYS_FILE, or the development keys)",
)
@click.option("--batch-size", default=100, show_default=True, help="rows per transaction")
@click.option("--pause", default=0.0, show_default=True, help="seconds between batches")
@click.option("--actor", default="operator", show_default=True, help="who rotates (audited)")
@click.option(
    "--force",
    is_flag=True,
    help="re-encrypt although the bot has written nothing under the new key yet",
)
def keys_rotate(
    new_key: bool, keys_file: Path | None, batch_size: int, pause: float, actor: str, force: bool
) -> None:
    """Rotate the data key: first `--new-key`, then (after a restart) re-encrypt every row.

    With --new-key a new key is written first in the data keys file, older keys after
    it; nothing in the database changes yet. Give that file to every web and worker
    process and restart them, so all new writes use the new key; then run this command
    without --new-key. It re-encrypts every row under an older key in small
    transactions while the bot serves; stopped at any moment, running it again resumes.
    """
    from store import rotation

    settings = _settings()
    if new_key:
        path = _data_keys_file(settings, keys_file)
        key_id = rotation.add_data_key(path)
        click.echo(f"New data key {key_id} written first in {path} (it now encrypts).")
        click.echo("Next: copy this file to the server (KRASIP_DATA_KEYS_FILE), restart the")
        click.echo("web and worker processes, then run `krasip keys rotate` to re-encrypt.")
        return
    runtime = build_runtime(settings)
    current = runtime.keys.data.current_id
    click.echo(f"Re-encrypting every row under data key {current} (batches of {batch_size}).")

    def report(progress: rotation.Progress) -> None:
        click.echo(f"  {progress.column}: {progress.rewritten} re-encrypted")

    try:
        with runtime.db.transaction() as session:
            before = rotation.totals(rotation.status(session))
            if before and not before.get(current) and not force:
                # A bot still running with the old keys could not read what is rewritten.
                raise click.ClickException(
                    f"no row is under data key {current} yet: restart the web and worker "
                    "processes with the new data keys first (--force if the bot is idle)"
                )
            moved = rotation.reindex(session, runtime.keys)
        if moved:
            click.echo(f"{moved} staff LINE links and groups moved to the current lookup pepper.")
        rewritten, failed = 0, 0
        for _ in range(3):  # rows a not yet restarted process wrote meanwhile: again
            for done in rotation.rotate(
                runtime.db, runtime.keys, batch_size=batch_size, pause=pause, report=report
            ):
                rewritten += done.rewritten
                failed += done.failed
            with runtime.db.transaction() as session:
                left = rotation.totals(rotation.status(session))
            old = sum(n for key_id, n in left.items() if key_id != current)
            if old <= failed:
                break
        with runtime.db.transaction() as session:
            repo.audit(
                session,
                actor=actor,
                action="keys.rotate",
                now=utc_now(),
                detail=f"cli; to data key {current}; {rewritten} rows re-encrypted",
            )
    finally:
        runtime.close()
    click.echo(f"{rewritten} rows re-encrypted; {old} still under older keys.")
    if old:
        raise click.ClickException(
            f"{old} rows are still under older keys ({failed} do not open where they are);"
            " see `krasip keys status`"
        )
    click.echo("Done. `krasip keys status` says which old keys can now be removed.")


@keys.command("new-pepper")
@click.option(
    "--pepper-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="KRASIP_LOOKUP_PEPPER_FILE",
    required=True,
    help="the lookup pepper file (default: KRASIP_LOOKUP_PEPPER_FILE)",
)
@click.option(
    "--old-peppers-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="KRASIP_OLD_LOOKUP_PEPPERS_FILE",
    required=True,
    help="where the old peppers are kept (default: KRASIP_OLD_LOOKUP_PEPPERS_FILE)",
)
def keys_new_pepper(pepper_file: Path, old_peppers_file: Path) -> None:
    """Rotate the lookup pepper: a new one, the current one kept among the old ones.

    Tokens are known only to reporters, so a case moves to the new pepper at its next
    lookup; the old peppers stay configured for as long as old tokens must answer.
    """
    from store import rotation

    rotation.add_pepper(pepper_file, old_peppers_file)
    click.echo(f"New lookup pepper written to {pepper_file}; the old one is first in")
    click.echo(f"{old_peppers_file}. Give both files to the server (KRASIP_LOOKUP_PEPPER_FILE,")
    click.echo("KRASIP_OLD_LOOKUP_PEPPERS_FILE), restart the web and worker processes, then run")
    click.echo("`krasip keys rotate` to move staff LINE links and groups to the new pepper.")


@keys.command("status")
def keys_status() -> None:
    """How many rows each data key protects, per table and in total."""
    from store import rotation

    runtime = build_runtime(_settings())
    try:
        with runtime.db.transaction() as session:
            counts = rotation.status(session)
    finally:
        runtime.close()
    configured = runtime.keys.data.key_ids
    total = rotation.totals(counts)
    ids = [*configured, *sorted(k for k in total if k not in configured)]
    click.echo(f"Data keys: {', '.join(configured)} (the first encrypts)")
    click.echo(f"{'column':34}" + "".join(f"{key_id:>12}" for key_id in ids))
    for column, found in counts.items():
        click.echo(f"{column:34}" + "".join(f"{found.get(k, 0):>12}" for k in ids))
    click.echo(f"{'total':34}" + "".join(f"{total.get(k, 0):>12}" for k in ids))
    for key_id in configured[1:]:
        if total.get(key_id, 0):
            click.echo(f"Key {key_id} still protects {total[key_id]} rows: keep it configured.")
        else:
            click.echo(
                f"Key {key_id} protects no rows: it can be removed from the configuration "
                "(keep it with the backups made before the rotation)."
            )
    for key_id in ids[len(configured) :]:
        click.echo(f"Key {key_id} protects {total[key_id]} rows but is NOT configured.")


# --- audit -----------------------------------------------------------------------------


@main.group()
def audit() -> None:
    """The audit log: a chain keyed under the audit key, and its signed checkpoints."""


@audit.command("verify")
@click.option(
    "--checkpoint",
    "checkpoints",
    multiple=True,
    metavar="FILE_OR_LINE",
    help="a checkpoint line, or a file holding some (the checkpoint log, a saved LINE "
    "message); may be repeated",
)
def audit_verify(checkpoints: tuple[str, ...]) -> None:
    """Check that no audit entry was changed, inserted or removed.

    Exit status: 0 intact, 1 tampering found, 2 could not check (a key is missing, or no
    checkpoint was found where one was given)."""
    given = []
    for source in checkpoints:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = source  # not a readable file: the checkpoint itself
        found = audit_log.parse_checkpoints(text)
        if not found:
            click.echo(
                f"ไม่พบจุดตรวจใน {source[:80]} / no checkpoint found in {source[:80]}", err=True
            )
            sys.exit(2)
        given += found
    settings = _settings(audit_optional=True)
    # The server's own checkpoint log is outside the database: always hold the log to it.
    log_file = settings.audit_checkpoint_log
    if log_file is not None and log_file.is_file():
        given += audit_log.parse_checkpoints(log_file.read_text(encoding="utf-8"))
    runtime = build_runtime(settings)
    with runtime.db.reading() as session:
        verdict = audit_log.verify(session, runtime.db.audit, given)
    runtime.close()
    if verdict.problems:
        click.echo(
            "ตรวจพบการแก้ไขบันทึกการตรวจสอบ! / AUDIT LOG TAMPERED: the chain does not verify:",
            err=True,
        )
        for problem in verdict.problems + verdict.unchecked:
            click.echo("  - " + problem, err=True)
        sys.exit(1)
    if verdict.unchecked:
        click.echo(
            "ตรวจสอบบันทึกไม่ได้ครบ เพราะไม่มีกุญแจ / the audit log could NOT be fully checked:",
            err=True,
        )
        for problem in verdict.unchecked:
            click.echo("  - " + problem, err=True)
        sys.exit(2)
    click.echo(
        f"บันทึกการตรวจสอบครบถ้วน {verdict.count} รายการ ไม่มีรายการใดถูกแก้ไขหรือลบ / "
        f"audit log intact: {verdict.count} entries, none changed or removed"
    )
    if verdict.checkpoints:
        click.echo(
            f"ตรงกับจุดตรวจที่ลงนามแล้ว {verdict.checkpoints} จุด / "
            f"consistent with {verdict.checkpoints} signed checkpoint(s)"
        )
    else:
        click.echo(
            "ไม่มีจุดตรวจ: ตรวจไม่พบการลบรายการล่าสุด / no checkpoint: deleting the newest "
            "entries cannot be detected without one (--checkpoint FILE)"
        )
    if verdict.plain:
        click.echo(
            f"{verdict.plain} รายการแรกบันทึกก่อนมีกุญแจ / the first {verdict.plain} entries "
            "predate the audit key: the keyed entries after them vouch for them"
        )


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign a checkpoint of the audit log now: print it, keep it, append it to the log."""
    from bot.checkpoints import issue, log_path

    runtime = build_runtime(_settings())
    try:
        checkpoint = issue(runtime, utc_now(), push=False)
    except audit_log.AuditBroken as exc:
        click.echo(
            "ตรวจพบการแก้ไขบันทึกการตรวจสอบ ไม่ออกจุดตรวจ / AUDIT LOG TAMPERED, no checkpoint issued:",
            err=True,
        )
        for problem in exc.problems:
            click.echo("  - " + problem, err=True)
        sys.exit(1)
    except audit_log.AuditKeyMissing as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        runtime.close()
    assert checkpoint is not None
    click.echo(checkpoint.line)
    click.echo(f"(appended to {log_path(runtime)})", err=True)


# --- outbox ----------------------------------------------------------------------------


@main.group("outbox")
def outbox_group() -> None:
    """What the bot has sent, is sending, and could not send."""


@outbox_group.command("list")
@click.option("--state", type=click.Choice(["pending", "sending", "sent", "dead"]))
@click.option("--limit", default=50, show_default=True)
def outbox_list(state: str | None, limit: int) -> None:
    runtime = build_runtime(_settings())
    with runtime.db.transaction() as session:
        click.echo("counts: " + ", ".join(f"{k}={v}" for k, v in outbox.counts(session).items()))
        for row in outbox.listing(session, state, limit):
            click.echo(
                f"{row.id:>6} {row.kind:<9} {row.purpose:<10} {row.state:<8} "
                f"attempts={row.attempts} created={row.created_at:%Y-%m-%d %H:%M:%S} "
                f"{row.last_error or ''}"
            )


@outbox_group.command("retry")
@click.argument("row_id", required=False, type=int)
def outbox_retry(row_id: int | None) -> None:
    """Put dead letters (one, or all) back in the queue."""
    runtime = build_runtime(_settings())
    with runtime.db.transaction() as session:
        count = outbox.retry_dead(session, utc_now(), row_id)
    click.echo(f"{count} message(s) queued again")


# --- rich menu -------------------------------------------------------------------------


@main.command("richmenu")
def richmenu() -> None:
    """Create the rich menu (report / status / help) and make it every user's default."""
    from linebot.v3.messaging import ApiException

    from bot.richmenu import install_rich_menu

    settings = _settings()
    try:
        menu_id = install_rich_menu(settings)
    except ApiException as exc:  # LINE answered, and said no
        raise click.ClickException(
            f"LINE refused the rich menu: HTTP {exc.status} {exc.reason or ''} {exc.body or ''}"
        ) from exc
    except urllib3.exceptions.HTTPError as exc:  # nothing answered: no refusal to report
        raise click.ClickException(
            f"could not reach LINE at {settings.line_api_base_url} ({type(exc).__name__}); "
            "is the address right, and is the emulator or the network up?"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - any other failure still fails the command
        raise click.ClickException(f"the rich menu was not installed: {exc}") from exc
    click.echo(f"rich menu {menu_id} is now the default")


# --- staff accounts (the web console) ----------------------------------------------------


@main.group("staff")
def staff_group() -> None:
    """Console accounts: staff, admin, custodian."""


@staff_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["staff", "admin", "custodian"]), required=True)
@click.option("--name", "display_name", help="the person's name, as shown (default: USERNAME)")
@click.option(
    "--password-file",
    type=click.Path(exists=True, path_type=Path),
    help="read the password from this file instead of a hidden prompt",
)
def staff_add(
    username: str, role: str, display_name: str | None, password_file: Path | None
) -> None:
    """Add an account; it gets its TOTP secret now (shown only once): every role needs one."""
    from store import staff

    if password_file:
        password = password_file.read_text().strip()
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    runtime = build_runtime(_settings())
    try:
        with runtime.db.transaction() as session:
            user = staff.create_user(
                session,
                username=username,
                display_name=display_name or username,
                role=role,
                password=password,
                now=utc_now(),
            )
            secret = (
                staff.start_totp_enrolment(runtime.keys, user)
                if role in staff.ROLES_NEEDING_TOTP
                else None
            )
            repo.audit(
                session,
                actor="cli",
                action="staff.add",
                now=utc_now(),
                detail=f"{user.username} as {role}",
            )
    except staff.StaffError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"account {user.username} ({role}) added")
    if secret:
        click.echo(BANNER, err=True)
        click.echo("Two-factor secret (shown only now): add it to the authenticator app.", err=True)
        click.echo(f"    secret: {secret}", err=True)
        click.echo(f"    URI:    {staff.totp_uri(secret, user.username)}", err=True)
        click.echo(BANNER, err=True)


@staff_group.command("list")
def staff_list() -> None:
    from store import staff

    runtime = build_runtime(_settings())
    with runtime.db.transaction() as session:
        for user in staff.list_users(session):
            click.echo(
                f"{user.username:<20} {user.role:<10} "
                f"{'active' if user.active else 'disabled':<9} "
                f"totp={'yes' if user.totp_confirmed else 'no':<4} {user.display_name}"
            )


@staff_group.command("disable")
@click.argument("username")
def staff_disable(username: str) -> None:
    """Disable an account; every session of it ends at once."""
    from store import staff

    runtime = build_runtime(_settings())
    try:
        with runtime.db.transaction() as session:
            user = staff.disable_user(session, username)
            repo.audit(
                session, actor="cli", action="staff.disable", now=utc_now(), detail=user.username
            )
    except staff.StaffError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"account {user.username} disabled")


@staff_group.command("reset-totp")
@click.argument("username")
def staff_reset_totp(username: str) -> None:
    """Forget an account's two-factor (a lost phone): it enrols a new one at its next log-in.
    Every session of the account ends at once."""
    from store import staff

    runtime = build_runtime(_settings())
    with runtime.db.transaction() as session:
        user = staff.find_user(session, username)
        if user is None:
            raise click.ClickException(f"no account {username!r}")
        staff.reset_totp(session, user)
        repo.audit(
            session, actor="cli", action="staff.totp_reset", now=utc_now(), detail=user.username
        )
    click.echo(f"two-factor of {user.username} reset; it enrols again at its next log-in")


@staff_group.command("password")
@click.argument("username")
@click.option(
    "--password-file",
    type=click.Path(exists=True, path_type=Path),
    help="read the new password from this file instead of a hidden prompt",
)
def staff_password(username: str, password_file: Path | None) -> None:
    """Set an account's password; every session of the account ends at once."""
    from store import staff

    if password_file:
        password = password_file.read_text().strip()
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    runtime = build_runtime(_settings())
    try:
        with runtime.db.transaction() as session:
            user = staff.find_user(session, username)
            if user is None:
                raise staff.StaffError(f"no account {username!r}")
            staff.set_password(session, user, password)
            repo.audit(
                session, actor="cli", action="staff.password", now=utc_now(), detail=user.username
            )
    except staff.StaffError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"password of {user.username} changed; its sessions have ended")


@staff_group.command("link-code")
@click.argument("username")
@click.option("--group", is_flag=True, help="a code that registers a LINE group (admins only)")
def staff_link_code(username: str, group: bool) -> None:
    """A one-time code that links USERNAME's LINE account (or, with --group, a LINE group)."""
    from store import notices, staff

    kind = "group" if group else "staff"
    runtime = build_runtime(_settings())
    with runtime.db.transaction() as session:
        user = staff.find_user(session, username)
        if user is None or not user.active:
            raise click.ClickException(f"no active account {username!r}")
        if group and user.role != "admin":
            raise click.ClickException(
                f"{user.username} is {user.role}: only an admin's code can register a group"
            )
        code = notices.issue_link_code(session, runtime.keys, user.id, kind, utc_now())
        repo.audit(
            session,
            actor="cli",
            action="notify.code_issued",
            now=utc_now(),
            detail=f"{kind} code for {user.username}",
        )
    minutes = int(notices.LINK_CODE_TTL.total_seconds() // 60)
    # The one place a link code is printed: to the person who asked, on stdout, never logged.
    click.echo(code)
    where = "in the LINE group, after inviting the bot," if group else "to the bot in LINE"
    click.echo(f"send `link` and this code {where} within {minutes} minutes", err=True)


# --- reports ---------------------------------------------------------------------------


@main.group("report")
def report_group() -> None:
    """Reports from the case register."""


@report_group.command("monthly")
@click.option("--year", type=int, required=True, help="Common Era (2023) or Buddhist era (2566)")
@click.option("--month", type=click.IntRange(1, 12), required=True)
@click.option("--csv", "as_csv", is_flag=True, help="CSV on standard output")
def report_monthly(year: int, month: int, as_csv: bool) -> None:
    """Complaints received in a month, by channel and category, and by outcome."""
    import csv as csv_module

    from store import staff

    if year > 2400:
        year -= 543
    runtime = build_runtime(_settings())
    with runtime.db.transaction() as session:
        try:
            stats = staff.monthly_statistics(session, year, month)
        except staff.StaffError as exc:
            raise click.ClickException(str(exc)) from exc
        repo.audit(
            session,
            actor="cli",
            action="statistics.export",
            now=utc_now(),
            detail=f"{year}-{month:02d}",
        )
    rows = staff.statistics_rows(stats)
    if as_csv:
        writer = csv_module.writer(sys.stdout)
        writer.writerow(["section", "key", "sub_key", "count"])
        writer.writerows(rows)
        return
    click.echo(f"{year}-{month:02d} (B.E. {year + 543}): {stats.total} complaints")
    for section, key, sub_key, count in rows[1:]:
        indent = "    " if section == "channel_category" else "  "
        click.echo(
            f"{indent}{section:<8} {sub_key or key:<26} {count:>5}"
            if section != "channel_category"
            else f"{indent}{sub_key:<26} {count:>5}"
        )


# --- retention -------------------------------------------------------------------------


@main.group("retention")
def retention_group() -> None:
    """Retention by policy: destroy identities and purge closed cases when their time is over."""


@retention_group.command("plan")
def retention_plan() -> None:
    """What the next run would remove: counts and case numbers, no content."""
    from bot.worker import retention_policy
    from store import retention

    runtime = build_runtime(_settings())
    policy = retention_policy(runtime)
    with runtime.db.transaction() as session:
        planned, _, _ = retention.plan(session, policy, runtime.clock())
    purged = set(planned.purges)
    only_identity = [n for n in planned.identities if n not in purged]
    click.echo(
        f"identities to destroy ({policy.identity_days} days after closure): {len(only_identity)}"
    )
    for number in only_identity:
        click.echo(f"  {number}")
    click.echo(f"cases to purge ({policy.content_years} years after closure): {len(purged)}")
    for number in planned.purges:
        click.echo(f"  {number}")
    click.echo(f"held by a custodian (kept): {len(planned.held)}")
    for number in planned.held:
        click.echo(f"  {number}")
    _say_what_keeps_purged_data(runtime)


def _say_what_keeps_purged_data(runtime: Runtime) -> None:
    """PostgreSQL settings that keep purged data in the write-ahead log (README, "Retention")."""
    from store import retention

    for warning in retention.wal_warnings(retention.read_wal_state(runtime.db.engine)):
        click.echo(f"WARNING, PostgreSQL keeps purged data: {warning}")


@retention_group.command("run")
@click.option("--actor", default="retention", help="who runs it (audited)")
def retention_run(actor: str) -> None:
    """Destroy and purge what is due now (the worker does this daily)."""
    from bot.worker import run_retention

    runtime = build_runtime(_settings())

    def progress(done: int, due: int) -> None:
        click.echo(f"{done:,} of {due:,} cases done", err=True)

    identities, purged = run_retention(runtime, actor, progress)
    click.echo(f"identities destroyed: {identities}; cases purged: {purged}")
    _say_what_keeps_purged_data(runtime)


@retention_group.command("hold")
@click.argument("case_number")
@click.option("--reason", required=True, help="why the case must be kept (audited)")
@click.option("--actor", required=True, help="the custodian's name (audited)")
def retention_hold(case_number: str, reason: str, actor: str) -> None:
    """Keep one case's identity and content past the retention clock."""
    from store import retention

    runtime = build_runtime(_settings())
    try:
        with runtime.db.transaction() as session:
            case = retention.hold(
                session, runtime.keys, case_number, reason=reason, actor=actor, now=utc_now()
            )
            number = case.number
    except retention.RetentionError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{number} is held until released (audited)")


@retention_group.command("release")
@click.argument("case_number")
@click.option("--actor", required=True, help="the custodian's name (audited)")
def retention_release(case_number: str, actor: str) -> None:
    """Let the retention clock run again for one case."""
    from store import retention

    runtime = build_runtime(_settings())
    try:
        with runtime.db.transaction() as session:
            number = retention.release(session, case_number, actor=actor, now=utc_now()).number
    except retention.RetentionError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{number} is no longer held (audited)")


# --- demo data -------------------------------------------------------------------------


@main.group()
def demo() -> None:
    """Synthetic data for demonstrations and scale tests (development only)."""


def demo_vocabulary() -> Vocabulary:
    """What synthetic cases are made of: the form's categories, Bangkok's districts, and
    tokens made as real ones are."""
    from handlers import districts, tokens
    from handlers.form import CATEGORIES
    from handlers.model import CASE_OUTCOMES, CASE_STATUSES

    return Vocabulary(
        categories=CATEGORIES,
        districts=[(d.code, d.name_th, d.name_en) for d in districts.DISTRICTS],
        statuses=CASE_STATUSES,
        outcomes=CASE_OUTCOMES,
        new_token=lambda: tokens.format_token(repo.new_token_bytes()),
    )


@demo.command("seed")
@click.option("--cases", "count", type=click.IntRange(min=1), required=True, help="how many")
@click.option("--seed", type=int, default=None, help="the same seed gives the same cases")
@click.option("--batch-size", type=click.IntRange(min=1), default=1000, show_default=True)
def demo_seed(count: int, seed: int | None, batch_size: int) -> None:
    """Fill the register with synthetic cases, encrypted exactly like real ones."""
    from store.demo import seed_cases

    settings = _settings("development")
    if not settings.development:
        # Invented complaints must never mix with real ones in a production register.
        raise click.ClickException("demo data is for development only; unset KRASIP_ENV")
    settings = _init(settings)
    runtime = build_runtime(settings)
    vocabulary = demo_vocabulary()
    try:
        with click.progressbar(length=count, label="Seeding cases", file=sys.stderr) as bar:
            summary = seed_cases(
                runtime.db,
                runtime.keys,
                vocabulary,
                count=count,
                now=utc_now(),
                seed=seed,
                batch_size=batch_size,
                progress=bar.update,
            )
    finally:
        runtime.close()
    click.echo(f"{summary.cases} synthetic cases added")
    for name, counts in (("channel", summary.by_channel), ("status", summary.by_status)):
        click.echo(f"  by {name}: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":  # `python -m bot.cli …` as well as `krasip …`
    main()
