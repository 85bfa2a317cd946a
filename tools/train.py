"""Train a unimodal model or a cross-modal distillation from a config.

Same flags as MMPretrain's ``tools/train.py``; ``--launcher pytorch`` also
works on CPU-only machines (gloo), see ``tools/dist_train.sh``.
"""
import fdkd_plugin  # noqa: F401  (compat fixes before any host import)
from fdkd_plugin.engine import clean_exit
from fdkd_plugin.utils import cli
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner


def main() -> None:
    args = cli.parse(cli.train_parser())
    # workers joined and the process group destroyed at the end, so a
    # finished run never aborts at exit
    with clean_exit() as session:
        cfg = cli.merge_train_args(Config.fromfile(args.config), args)
        cfg = cli.setup_distributed(cfg)
        runner = session.track(
            Runner.from_cfg(cfg) if 'runner_type' not in cfg else
            RUNNERS.build(cfg))
        runner.train()


if __name__ == '__main__':
    main()
