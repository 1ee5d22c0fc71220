"""The ``workbench`` command: encode data, measure intrinsic dimension, render reports.

Examples
--------
::

    workbench encode default sentences.csv -o spaces/minilm
    workbench lid spaces/minilm --k 64 --csv lid.csv
    workbench lid spaces/minilm --n-bootstrap 20 --n-permutations 19
    workbench report notebooks/01_quickstart.ipynb -o quickstart.html
    workbench demo
    workbench import vectors.npy meta.csv -o spaces/mine
    workbench export spaces/mine --parquet mine.parquet --projector projector/
    workbench map spaces/minilm -o map.html --color emotion
    workbench cache clear --older-than 30d

Every command prints one clear line and exits with status 1 when something is
wrong with its input (``--traceback`` shows the full trace instead), and 130
when interrupted. Heavy libraries are imported only by the command that needs
them, so ``workbench --help`` is instant.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import textwrap
import time
from pathlib import Path

from workbench.cli_io import add_commands

__all__ = ["main", "build_parser"]

#: What MODEL may be instead of a hub id or folder: the bundled all-MiniLM-L6-v2.


class _Formatter(argparse.HelpFormatter):
    """Wrap prose paragraphs; keep indented example lines as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        blocks = []
        for block in text.split("\n\n"):
            if "\n  " in block or block.startswith("  "):
                blocks.append("\n".join(indent + line for line in block.splitlines()))
            else:
                blocks.append(textwrap.fill(" ".join(block.split()), width, initial_indent=indent, subsequent_indent=indent))
        return "\n\n".join(blocks)


def _layers(text: str) -> str | list[int]:
    """``all``, or comma-separated hidden-state indices such as ``0,3,-1``."""
    if text.strip().lower() == "all":
        return "all"
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'all' or integers such as 0,3,-1; got {text!r}") from None


def _at_least(least: int, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if value < least:
        kind = "a positive integer" if least == 1 else "0 or a positive integer"
        raise argparse.ArgumentTypeError(f"expected {kind}; got {text!r}")
    return value


def _positive(text: str) -> int:
    return _at_least(1, text)


def _count(text: str) -> int:
    """How many replicates: 0 (none) or more."""
    return _at_least(0, text)


# ---------------------------------------------------------------- commands


def _encode(args: argparse.Namespace) -> int:

    from workbench._format import check_destination
    from workbench.encoders import encode

    data_path = Path(args.data)
    if not data_path.is_file():
        raise FileNotFoundError(f"no file {data_path}")
    # before the encoding, which may take hours: never replace what is not a workbench save
    check_destination(Path(args.output), "LayerStack", args.overwrite)
    frame = _read_csv(data_path, args.column)
    started = time.perf_counter()
    stack = encode(
        args.model,  # "default" is the bundled model, resolved by the encoders as for wb.encode
        frame,
        layers=args.layers,
        pooling=args.pooling,
        batch_size=args.batch_size,
        device=args.device,
        column=args.column,
        cache=not args.no_cache,
        progress=not args.quiet,
    )
    path = stack.save(args.output, overwrite=args.overwrite)
    first = stack[stack.layers[0]]
    print(
        f"wrote {len(stack.layers)} layers x {first.vectors.shape[0]} rows x {first.vectors.shape[1]} "
        f"to {path} ({time.perf_counter() - started:.1f} s)"
    )
    return 0


def _read_csv(path: Path, column: str | None):
    """The CSV, its column to encode read as text: ``NA``, ``null``, ``None``, ``007`` stay as written."""
    import pandas as pd
    from pandas._libs.parsers import STR_NA_VALUES

    try:
        columns = list(pd.read_csv(path, nrows=0).columns)
        if column and column not in columns:
            raise ValueError(f"{path} has no column {column!r}; it has {columns}")
        texts = [c for c in ([column] if column else ["text", "audio", "image"]) if c in columns]
        return pd.read_csv(
            path,
            dtype={c: str for c in texts},
            keep_default_na=False,
            na_values={c: sorted(STR_NA_VALUES) for c in columns if c not in texts},
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not a readable CSV: {str(exc).strip().splitlines()[0]}") from None


def _load_space(path: Path):
    from workbench.space import LatentSpace, LayerStack

    if (path / "space.json").is_file():
        return LatentSpace.load(path)
    return LayerStack.load(path)


def _lid(args: argparse.Namespace) -> int:
    from workbench.geometry.intrinsic.profile import lid_profile
    from workbench._format import atomic_file

    stack = _load_space(Path(args.space))
    profile = lid_profile(
        stack,
        n_neighbors=args.k,
        layers=args.layers if args.layers != "all" else None,
        sample=args.sample,
        estimator=args.estimator,
        device=args.device,
        progress=not args.quiet,
        n_bootstrap=args.n_bootstrap,
        n_permutations=args.n_permutations,
        groups=args.groups,
        seed=args.seed,
    )
    print(profile.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    if args.csv:
        with atomic_file(args.csv, "w") as handle:
            profile.to_csv(handle, index=False)
        print(f"wrote {args.csv}")
    return 0


def _report(args: argparse.Namespace) -> int:
    import warnings

    from workbench.report import render

    # what was removed from an untrusted notebook, images not copied, cells
    # that raised: one line each on stderr, not Python's warning format
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        path = render(
            args.notebook,
            args.output,
            execute=not args.no_execute,
            timeout=args.timeout,
            kernel_name=args.kernel,
            progress=not args.quiet,
            title=args.title,
            overwrite=args.overwrite,
            allow_errors=args.allow_errors,
        )
    for warning in said:
        if issubclass(warning.category, UserWarning):
            print(f"workbench report: {warning.message}", file=sys.stderr)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from workbench.demo import run_demo

    path = run_demo(args.output, progress=not args.quiet)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB); open it in a browser, no network needed")
    return 0


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Look inside models from the terminal: encode data layer by layer, measure local "
        "intrinsic dimension, turn notebooks into offline HTML reports, bring your own embeddings in and "
        "send maps out (parquet, TensorBoard, one HTML page).",
        epilog="Run 'workbench COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--traceback", action="store_true", help="on an error, show the full Python traceback")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    encode = commands.add_parser(
        "encode",
        formatter_class=_Formatter,
        help="encode a CSV with a model; save one space per layer",
        description="Run every row of a CSV through a Hugging Face model and save the hidden states of "
        "each layer, pooled per row, as a LayerStack folder (load it with workbench.LayerStack.load).",
        epilog="examples:\n"
        "  workbench encode default sentences.csv -o spaces/minilm\n"
        "  workbench encode bert-base-uncased reviews.csv -o spaces/bert --column review --layers 0,6,12",
    )
    encode.add_argument("model", metavar="MODEL",
                        help="hub id, a folder saved with save_pretrained, or 'default' for the bundled all-MiniLM-L6-v2")
    encode.add_argument("data", metavar="DATA.csv", help="one row per sample; a 'text' column (or see --column)")
    encode.add_argument("-o", "--output", required=True, metavar="SPACE_DIR",
                        help="folder to write; an earlier workbench save there is replaced (atomically) only with --overwrite")
    encode.add_argument("--overwrite", action="store_true", help="replace an earlier workbench save at SPACE_DIR")
    encode.add_argument("--column", help="the column to encode when it is not called text, audio or image")
    encode.add_argument("--layers", type=_layers, default="all",
                        help="'all' (the default) or hidden-state indices, e.g. 0,3,-1 (0 = embeddings, -1 = last)")
    encode.add_argument("--pooling", help="mean, cls, last or tokens (text); mean or frames (speech); default: last for a causal LM, else mean")
    encode.add_argument("--batch-size", type=_positive, help="rows per forward pass (default: the encoder's)")
    encode.add_argument("--device", default="auto", help="auto (the default: cuda, then mps, then cpu), cpu, cuda, cuda:1, mps")
    encode.add_argument("--no-cache", action="store_true", help="do not reuse or store an identical earlier encoding")
    encode.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    encode.set_defaults(run=_encode)

    lid = commands.add_parser(
        "lid",
        formatter_class=_Formatter,
        help="local intrinsic dimension of every layer of a saved space",
        description="Estimate the local intrinsic dimension (TwoNN on each point's k nearest neighbours, "
        "as in 'Less is More', Ruppik et al. 2025) of every point, and print its mean, median and spread "
        "per layer.",
        epilog="example:\n  workbench lid spaces/minilm --k 64 --csv lid.csv",
    )
    lid.add_argument("space", metavar="SPACE_DIR", help="a folder written by 'workbench encode' or LayerStack.save")
    lid.add_argument("--k", "--n-neighbors", dest="k", type=_positive, default=128, help="neighbourhood size (default: %(default)s, the paper's)")
    lid.add_argument("--layers", type=_layers, default="all", help="'all' (the default) or layer keys, e.g. 0,3,6")
    lid.add_argument("--sample", type=_positive, help="estimate on this many random rows (the same in every layer)")
    lid.add_argument("--estimator", choices=["twonn", "mle"], default="twonn",
                     help="TwoNN inside the neighbourhood (the default, the paper's) or Levina-Bickel MLE")
    lid.add_argument("--device", default="auto", help="auto (the default), cpu, cuda, mps")
    lid.add_argument("--n-bootstrap", type=_count, default=0, metavar="N",
                     help="N half-sample re-estimates: adds a 95%% interval of each layer's mean (ci_low, ci_high)")
    lid.add_argument("--n-permutations", type=_count, default=0, metavar="N",
                     help="N column-shuffled copies: adds the null of no structure (null_mean, null_q95, p_value)")
    lid.add_argument("--groups", metavar="COLUMN", help="meta column whose groups are resampled whole (e.g. situation)")
    lid.add_argument("--seed", type=int, default=0, help="seed of the sample, half-samples and shuffles")
    lid.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    lid.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    lid.set_defaults(run=_lid)

    report = commands.add_parser(
        "report",
        formatter_class=_Formatter,
        help="run a notebook and write it as one self-contained, offline HTML file",
        description="Execute a notebook in a fresh kernel and write one HTML file that works offline: "
        "plotly figures and widgets (the Explorer included) render without a network or a kernel.",
        epilog="example:\n  workbench report notebooks/01_quickstart.ipynb -o quickstart.html",
    )
    report.add_argument("notebook", metavar="NOTEBOOK.ipynb")
    report.add_argument("-o", "--output", metavar="OUT.html", help="default: the notebook's name with .html")
    report.add_argument("--no-execute", action="store_true", help="export the outputs already saved in the notebook")
    report.add_argument("--timeout", type=_positive, default=600, help="seconds one cell may run (default: %(default)s)")
    report.add_argument("--kernel", help="Jupyter kernel name (default: the notebook's)")
    report.add_argument("--title", help="page title (default: the notebook's first heading)")
    report.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    report.add_argument("--overwrite", action="store_true", help="replace OUT.html even if it is not a report workbench wrote")
    report.add_argument("--allow-errors", action="store_true", help="keep running past cells that raise; their errors show in the page")
    report.set_defaults(run=_report)

    demo = commands.add_parser(
        "demo",
        formatter_class=_Formatter,
        help="render the quickstart notebook (bundled model, built-in corpus) as an HTML report",
        description="Run notebooks/01_quickstart.ipynb (the built-in emotion corpus through the bundled "
        "MiniLM, in the Explorer) and write it as an offline HTML report.",
    )
    demo.add_argument("-o", "--output", default="reports/demo.html", metavar="OUT.html", help="where to write the report (default: %(default)s)")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(run=_demo)
    add_commands(commands, _Formatter)
    return parser


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _valued_options(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string, of any command, that takes a value."""
    options = set()
    for sub in [parser, *_subparsers(parser).values()]:
        for action in sub._actions:
            if action.option_strings and action.nargs != 0:
                options.update(action.option_strings)
    return options


_NEGATIVE_LIST = re.compile(r"-\d+(\s*,\s*-?\d+)*")


def _join_negative_values(argv: list[str], options: set[str]) -> list[str]:
    """``--layers -1,-2`` -> ``--layers=-1,-2``: argparse reads a value starting with '-' as an option."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in options and i + 1 < len(argv) and _NEGATIVE_LIST.fullmatch(argv[i + 1]):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def _as_flags(message: str, parser: argparse.ArgumentParser, command: str) -> str:
    """Say ``--column`` where a library's message says the Python keyword ``column=``."""
    sub = _subparsers(parser).get(command)
    if sub is None:
        return message
    for action in sub._actions:
        flags = [o for o in action.option_strings if o.startswith("--")]
        if flags:
            message = re.sub(rf"(?<![\w-]){re.escape(action.dest)}=(\.\.\.)?", flags[0] + " ", message)
    return re.sub(r" +(?=[).,;]|$)", "", message)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(_join_negative_values(argv, _valued_options(parser)))
    if args.version:
        from workbench import __version__

        print(__version__)
        return 0
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print(f"workbench {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # one clear line for the terminal, not a trace from deep inside a library
        if args.traceback:
            raise
        print(f"workbench {args.command}: error: {_as_flags(_one_line(error), parser, args.command)}", file=sys.stderr)
        return 1


def _one_line(error: Exception) -> str:
    """The first line of an error's message; its type too when that is what explains it."""
    from workbench.report import ReportError

    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    line = text.strip().splitlines()[0] if text.strip() else ""
    if isinstance(error, (ValueError, OSError, KeyError, ReportError)) and line:
        return line
    if isinstance(error, ImportError):
        return f"a library is missing: {line}"
    # not an input problem we know: keep the type, point at the trace
    return f"{type(error).__name__}: {line} (run with --traceback to see where)"


if __name__ == "__main__":
    sys.exit(main())
