"""Evaluate a checkpoint with a config (unimodal or distillation).

Same flags as MMPretrain's ``tools/test.py`` (``--out``, ``--work-dir``,
``--cfg-options``, ``--launcher``).
"""
import fdkd_plugin  # noqa: F401  (compat fixes before any host import)
from fdkd_plugin.engine import clean_exit
from fdkd_plugin.utils import cli
from mmengine.config import Config
from mmengine.evaluator import DumpResults
from mmengine.registry import RUNNERS
from mmengine.runner import Runner


def main() -> None:
    args = cli.parse(cli.test_parser())
    # workers joined and the process group destroyed at the end
    with clean_exit() as session:
        cfg = cli.merge_test_args(Config.fromfile(args.config), args)
        cfg = cli.setup_distributed(cfg)
        runner = session.track(
            Runner.from_cfg(cfg) if 'runner_type' not in cfg else
            RUNNERS.build(cfg))
        if args.out and args.out_item == 'pred':
            runner.test_evaluator.metrics.append(
                DumpResults(out_file_path=args.out))
        metrics = runner.test()
        if args.out and args.out_item == 'metrics':
            import mmengine
            mmengine.dump(metrics, args.out)


if __name__ == '__main__':
    main()
