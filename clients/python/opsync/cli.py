"""The command line: ``python3 -m opsync`` or ``clients/python/opsync_client.py``.

Shaped like the reference client's: each ``--dir`` is one device's copy of one workspace, secrets
come from OPSYNC_PASSWORD and OPSYNC_PASSPHRASE or are asked for without echo, commands that print
data take ``--json``. Exit codes: 0 ok, 1 not found, 2 usage, 3 network, server or protocol,
4 authentication (token, scope, password).
"""

import argparse
import getpass
import json
import os
import sys

from . import b64
from .client import Client
from .env import DEFECTS, Environment
from .errors import CryptoError, OpSyncError, ServerError

EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE, EXIT_SERVER, EXIT_AUTH = 0, 1, 2, 3, 4
# As the reference client's sync: waits of 1, 2 and 4 s before a command gives up. A program
# using the library chooses its own (Client(attempts_max=...)); the library's default is longer.
ATTEMPTS_DEFAULT = 4
AUTH_CODES = {"token_missing", "token_invalid", "token_expired", "token_revoked", "insufficient_scope",
              "wrong_password", "registration_closed", "workspace_not_found"}
USAGE_CODES = {"usage", "not_initialized", "sync_running"}


def _secret(name, prompt, confirm=False):
    value = os.environ.get(name)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise OpSyncError("usage", f"set {name} or run in a terminal to be asked")
    value = getpass.getpass(prompt)
    if confirm and getpass.getpass("Again: ") != value:
        raise OpSyncError("usage", "the two entries differ")
    return value


def _print_json(value):
    print(json.dumps(value, sort_keys=True, ensure_ascii=False))


def _text_or_none(data):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _ref_json(client, ref):
    return {"id": b64.encode(ref["id"]), "name": ref["name"], "size_bytes": ref["size_bytes"],
            "sha256": b64.encode(ref["sha256"]), "local_copy": client.has_copy(ref["id"])}


def _side_json(client, side):
    out = {"id": side.op_id, "type": side.type, "hlc": {"wall_ms": side.wall_ms, "counter": side.counter}}
    if side.type == "put":
        out.update(value=_text_or_none(side.value), value_b64=b64.encode(side.value),
                   files=[_ref_json(client, ref) for ref in side.files])
    return out


def _view_json(client, view):
    return {"key": view.key, "present": view.present,
            "value": _text_or_none(view.value) if view.present else None,
            "value_b64": b64.encode(view.value) if view.present else None,
            "files": [_ref_json(client, ref) for ref in view.files],
            "winner": _side_json(client, view.winner) if view.winner else None,
            "conflicts": [_side_json(client, side) for side in view.conflicts]}


def _open(args, env):
    return Client.open(args.dir, env=env, attempts_max=getattr(args, "attempts", None))


def cmd_init(args, env):
    password = _secret("OPSYNC_PASSWORD", "Password: ", confirm=args.new_workspace)
    if args.new_workspace:
        client, passphrase = Client.create_workspace(args.dir, args.server, password, env=env,
                                                     attempts_max=args.attempts)
        workspace = b64.encode(client.workspace_id())
        client.close()
        if args.json:
            _print_json({"workspace_id": workspace, "passphrase": passphrase})
        else:
            print(f"Created workspace {workspace}")
            print(f"Passphrase (shown once; every device that joins needs it): {passphrase}")
        return EXIT_OK
    if not args.workspace or not args.token:
        raise OpSyncError("usage", "init needs --new-workspace, or --workspace and --token")
    passphrase = _secret("OPSYNC_PASSPHRASE", "Passphrase: ")
    client = Client.join(args.dir, args.server, args.workspace, args.token, password, passphrase, env=env,
                         attempts_max=args.attempts)
    client.close()
    if args.json:
        _print_json({"workspace_id": args.workspace})
    else:
        print(f"Joined workspace {args.workspace}; run `sync` to fetch it")
    return EXIT_OK


def cmd_invite(args, env):
    client = _open(args, env)
    expires = args.expires_in * 1000 if args.expires_in else None
    invitation = client.invite(args.scope, expires)
    server = client.store.get("server_url")
    client.close()
    if args.json:
        _print_json(invitation)
    else:
        print(f"workspace {invitation['workspace_id']}")
        print(f"token     {invitation['token']}  ({invitation['scope']})")
        print("On the other device (with the password and passphrase):")
        print(f"  python3 -m opsync init --dir DIR --server {server} "
              f"--workspace {invitation['workspace_id']} --token {invitation['token']}")
    return EXIT_OK


def cmd_put(args, env):
    client = _open(args, env)
    client.put(args.key, args.value.encode("utf-8"))
    client.close()
    return EXIT_OK


def cmd_delete(args, env):
    client = _open(args, env)
    client.delete(args.key)
    client.close()
    return EXIT_OK


def cmd_get(args, env):
    client = _open(args, env)
    view = client.get(args.key)
    if args.json:
        _print_json(_view_json(client, view))
    elif view.present:
        sys.stdout.buffer.write(view.value + (b"" if view.value.endswith(b"\n") else b"\n"))
        for side in view.conflicts:
            print(f"(conflict: {side.type} {'' if side.type == 'delete' else _text_or_none(side.value)!r})",
                  file=sys.stderr)
    client.close()
    return EXIT_OK if view.present else EXIT_NOT_FOUND


def cmd_list(args, env):
    client = _open(args, env)
    keys = client.keys()
    client.close()
    if args.json:
        _print_json(keys)
    else:
        for key in keys:
            print(key)
    return EXIT_OK


def cmd_attach(args, env):
    client = _open(args, env)
    if not os.path.isfile(args.path):
        raise OpSyncError("usage", f"{args.path} is not a file")
    ref = client.attach(args.key, args.path, args.name)
    out = _ref_json(client, ref)
    client.close()
    if args.json:
        _print_json(out)
    else:
        print(f"attached {out['name']} ({out['size_bytes']} bytes) as file {out['id']}")
    return EXIT_OK


def cmd_detach(args, env):
    client = _open(args, env)
    file_id = b64.decode(args.file_id)
    if file_id is None or len(file_id) != 16:
        raise OpSyncError("usage", "a file id is 22 characters of base64url")
    client.detach(args.key, file_id)
    client.close()
    return EXIT_OK


def cmd_export(args, env):
    client = _open(args, env)
    written = client.export(args.key, args.output_dir)
    client.close()
    if args.json:
        _print_json([{"name": name, "path": path} for name, path in written])
    else:
        for name, path in written:
            print(path if path else f"{name}: not here yet (sync to download it)")
    return EXIT_OK if all(path for _, path in written) else EXIT_NOT_FOUND


def cmd_sync(args, env):
    client = _open(args, env)
    report = client.sync()
    client.close()
    if args.json:
        _print_json(report.to_json())
    elif report.ok:
        print(f"sync done: {report.ops_up} ops up, {report.ops_down} down, {report.files_up} files up, "
              f"{report.files_down} down, {report.conflicted_keys} conflicted keys"
              + (f", {len(report.files_pending)} files pending" if report.files_pending else ""))
    else:
        print(f"sync failed: {report.error}", file=sys.stderr)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for rejected in report.ops_rejected:
        print(f"rejected: operation {rejected['id']}: {rejected['code']}: {rejected['message']}",
              file=sys.stderr)
    if report.ok:
        return EXIT_OK
    return _exit_code(report.exception)


def cmd_conflicts(args, env):
    client = _open(args, env)
    views = client.conflicts()
    out = [_view_json(client, view) for view in views]
    client.close()
    if args.json:
        _print_json(out)
    else:
        for view in out:
            print(f"{view['key']}:")
            for side in [view["winner"]] + view["conflicts"]:
                mark = "winner  " if side is view["winner"] else "conflict"
                shown = "(deleted)" if side["type"] == "delete" else repr(side["value"])
                print(f"  {mark} {side['id']} {shown}")
    return EXIT_OK


def cmd_status(args, env):
    client = _open(args, env)
    status = client.status()
    client.close()
    if args.json:
        _print_json(status)
    else:
        for name, value in status.items():
            print(f"{name}: {value}")
    return EXIT_OK


def cmd_dump(args, env):
    client = _open(args, env)
    _print_json(client.state_dump())
    client.close()
    return EXIT_OK


def cmd_unlock(args, env):
    client = _open(args, env)
    password = _secret("OPSYNC_PASSWORD", "Password: ")
    passphrase = _secret("OPSYNC_PASSPHRASE", "Passphrase: ")
    result = client.unlock(password, passphrase)
    client.close()
    _print_json(result) if args.json else print(f"keys added: {result['keys_added']}, "
                                                f"operations applied: {result['ops_applied']}")
    return EXIT_OK


def build_parser():
    parser = argparse.ArgumentParser(
        prog="opsync", description="An OpSync client in Python. Each --dir is one device's copy of one "
        "workspace.", epilog="Exit codes: 0 ok, 1 not found, 2 usage, 3 network, server or protocol, "
        "4 authentication. Secrets come from OPSYNC_PASSWORD and OPSYNC_PASSPHRASE, or are asked for "
        "without echo. OPSYNC_PY_DEFECT=name[,name] switches on deliberate defects for certification: "
        + ", ".join(sorted(DEFECTS)) + ".")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name, function, help_text, json_flag=True, network=False):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--dir", required=True, help="the device directory")
        if json_flag:
            sub.add_argument("--json", action="store_true", help="machine-readable output")
        if network:
            sub.add_argument("--attempts", type=int, choices=range(1, 65), metavar="1..64",
                             default=ATTEMPTS_DEFAULT,
                             help="tries per request when the server cannot be reached, waiting 1, 2, "
                             f"4 ... 64 s between them (default {ATTEMPTS_DEFAULT})")
        sub.set_defaults(function=function)
        return sub

    sub = command("init", cmd_init, "Create a workspace (--new-workspace) or join one (--workspace, --token)",
                  network=True)
    sub.add_argument("--server", required=True, help="server URL, e.g. http://127.0.0.1:8420")
    sub.add_argument("--new-workspace", action="store_true")
    sub.add_argument("--workspace", help="the id of the workspace to join")
    sub.add_argument("--token", help="a token from `invite`")
    sub = command("invite", cmd_invite, "Issue a token for another device (owner only)", network=True)
    sub.add_argument("--scope", choices=("read", "read_write"), default="read_write")
    sub.add_argument("--expires-in", type=int, help="seconds until the token expires (default: never)")
    sub = command("put", cmd_put, "Set KEY to VALUE (works offline)", json_flag=False)
    sub.add_argument("key")
    sub.add_argument("value")
    sub = command("get", cmd_get, "Print KEY's value (exit 1 if absent)")
    sub.add_argument("key")
    sub = command("delete", cmd_delete, "Delete KEY (works offline)", json_flag=False)
    sub.add_argument("key")
    command("list", cmd_list, "List the keys that are present")
    sub = command("attach", cmd_attach, "Attach the file at PATH to KEY (works offline)")
    sub.add_argument("key")
    sub.add_argument("path")
    sub.add_argument("--name", help="the file's name (default: PATH's last component)")
    sub = command("detach", cmd_detach, "Remove file FILE_ID from KEY (works offline)", json_flag=False)
    sub.add_argument("key")
    sub.add_argument("file_id")
    sub = command("export", cmd_export, "Write KEY's attached files into OUTPUT_DIR")
    sub.add_argument("key")
    sub.add_argument("output_dir")
    command("sync", cmd_sync, "Sync with the server: operations both ways, then files", network=True)
    command("conflicts", cmd_conflicts, "Keys with concurrent writes and every side of each")
    command("status", cmd_status, "Unsynced operations, pending files, clock offset, last sync")
    command("dump", cmd_dump, "Every key's winner, value, files and conflicts, as canonical JSON",
            json_flag=False)
    command("unlock", cmd_unlock, "Unwrap key records this device lacks (needs the password)", network=True)
    return parser


def _exit_code(error):
    if error is None:
        return EXIT_SERVER
    if error.code in AUTH_CODES or isinstance(error, CryptoError) and error.code == "wrong_password":
        return EXIT_AUTH
    if error.code in USAGE_CODES:
        return EXIT_USAGE
    if error.code == "not_found":
        return EXIT_NOT_FOUND
    if isinstance(error, ServerError) and error.status in (401, 403):
        return EXIT_AUTH  # ERR-005: an unknown code, judged by its status
    return EXIT_SERVER


# Options whose value may start with "-": ids and tokens are base64url, whose alphabet has "-".
_VALUE_OPTIONS = ("--dir", "--server", "--workspace", "--token", "--name", "--scope")


def _join_option_values(argv):
    """``--workspace -6kd...`` as ``--workspace=-6kd...``: argparse would take the id for an
    option and refuse the command (one workspace id in 64 starts with "-")."""
    out = []
    index = 0
    while index < len(argv):
        if argv[index] in _VALUE_OPTIONS and index + 1 < len(argv) and argv[index + 1].startswith("-"):
            out.append(f"{argv[index]}={argv[index + 1]}")
            index += 2
        else:
            out.append(argv[index])
            index += 1
    return out


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(_join_option_values(sys.argv[1:] if argv is None else list(argv)))
    try:
        env = Environment()
    except ValueError as error:  # an unknown OPSYNC_PY_DEFECT name
        print(f"opsync: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return args.function(args, env)
    except OpSyncError as error:
        print(f"opsync {args.command}: {error}", file=sys.stderr)
        return _exit_code(error)
    except OSError as error:
        print(f"opsync {args.command}: {error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
