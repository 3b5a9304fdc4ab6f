"""``genlab explore RUN [RUN...]``: the latent-space explorer in the browser.

The handler opens the runs, builds the app (``genlab.explore``) and serves it with uvicorn;
torch, FastAPI and uvicorn are imported there only, so ``genlab --help`` stays instant.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys

from genlab.cli import common as arg

MAX_RUNS = 16
EXAMPLES = """examples:
  genlab explore runs/demo/vae                      # then open http://127.0.0.1:8000/
  genlab explore runs/vae runs/pca runs/dcgan --port 8080
  genlab explore runs/vae --host 0.0.0.0            # reachable from other machines (warns)
"""


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str) -> list[str] | None:
    """The Host headers to accept: this machine's names when bound to loopback (a web page
    elsewhere cannot then reach the explorer by DNS rebinding); any when bound wider."""
    return ["127.0.0.1", "localhost", "::1", "[::1]", host] if is_loopback(host) else None


def cmd_explore(args: argparse.Namespace) -> int:
    import uvicorn

    from genlab.errors import ConfigError
    from genlab.explore.app import create_app
    from genlab.explore.session import Explorer
    from genlab.runs import open_run

    if len(args.runs) > MAX_RUNS:
        raise ConfigError(f"at most {MAX_RUNS} runs at once, got {len(args.runs)}")
    runs = [(name, open_run(name, which=args.which, device=args.device, data_dir=args.data_dir))
            for name in args.runs]
    state = Explorer(runs)
    for served in state.runs:
        served.run.dataset  # load now, not on the first request  # noqa: B018
    if not is_loopback(args.host):
        print(f"genlab explore: warning: listening on {args.host}, not only on this machine: "
              "anyone who can reach this port can use the explorer", file=sys.stderr)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"genlab explore: serving {len(runs)} run(s) at http://{shown}:{args.port}/ "
          "(Ctrl+C stops)", flush=True)
    app = create_app(state, allowed_hosts(args.host))
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        state.close()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``explore`` to the genlab parser."""
    p = sub.add_parser(
        "explore", help="explore latent spaces in the browser (sliders, moves, maps, completion)",
        description="Start a local web app on the runs given: latent sliders (principal\n"
        "directions above 12 dimensions), dataset images and prior draws, perturbations,\n"
        "interpolation, blends, 2-D maps and completion. It serves only these runs and its\n"
        "own page, on 127.0.0.1 unless --host says otherwise.",
        epilog=EXAMPLES, formatter_class=arg.HelpFormatter)
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories (or checkpoint files)")
    p.add_argument("--port", type=arg.int_range(1, 65535), default=8000, help="TCP port")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on; anything but loopback prints a warning")
    p.add_argument("--which", choices=["best", "last"], default="best", help="checkpoint to use")
    p.add_argument("--device", type=arg.device, default="cpu",
                   help="cpu, cuda, cuda:N, mps or auto")
    p.add_argument("--data-dir", default=None, help="where datasets live (else $GENLAB_DATA)")
    p.set_defaults(func=cmd_explore)
