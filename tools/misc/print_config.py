"""Print a config as MMEngine resolves it: every ``_base_`` merged, the
``--cfg-options`` applied (MMPretrain's ``tools/misc/print_config.py``).

    python tools/misc/print_config.py \\
        configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-visual.py
    python tools/misc/print_config.py CONFIG --cfg-options \\
        model.distiller.reduction=sum_per_sample
"""
import argparse
import sys
from typing import List, Optional

import fdkd_plugin  # noqa: F401  (compat fixes before any host import)
from mmengine.config import Config, DictAction

from fdkd_plugin.config_names import config_arg


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', type=config_arg, help='config file path')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs')
    args = parser.parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    print(cfg.pretty_text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
