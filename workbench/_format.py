"""The on-disk format, in one place: folders, manifests, safetensors, parquet, atomic writes.

Everything workbench writes (a saved :class:`~workbench.space.LatentSpace` or
:class:`~workbench.space.LayerStack`, the shards of a sharded store, cache
entries) is made of the same parts, and this module is the only one that
knows them:

- tensors in **safetensors** (never pickle), read back with a message that
  names the file when it is truncated or not safetensors at all;
- the rows' meta in **parquet**, whose ``id`` column is required on reading
  (a file that lost it would otherwise silently get ids ``0..n-1``);
- a **JSON manifest** saying what the folder is (``format``) and in which
  version of the format (:data:`FORMAT_VERSION`); duplicate keys are refused
  (JSON parsers silently keep the last one);
- **atomic writes**: a folder is written under ``.<name>.tmp-<token>`` next to
  its destination, its manifest last and fsynced, so that *a folder whose
  manifest is there is complete* (the manifest is the completeness marker).

Replacing a folder takes two renames (old aside to ``.<name>.old-<token>``,
new in), with the *same* token for the two leftovers. A crash between them
leaves the pair, and :func:`recover_directory` finishes the swap (the new,
complete version goes in). A lone ``.old-`` folder is what a crash after the
swap leaves: it is stale and never restored, so a save the user deleted does
not come back. The next successful save removes every leftover.

Saving refuses a destination that holds something else than a workbench save
(a thesis, the input CSV, a home folder): that is never replaced, whatever
``overwrite`` says.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch

__all__ = [
    "FORMAT_VERSION",
    "FormatError",
    "atomic_directory",
    "atomic_file",
    "check_destination",
    "check_layer_keys",
    "check_manifest",
    "describe_leftovers",
    "dtype_name",
    "dtype_named",
    "field",
    "json_safe",
    "layer_keys_header",
    "load_tensors",
    "open_folder",
    "read_json",
    "read_meta",
    "recover_directory",
    "save_folder",
    "save_tensors",
    "saved_kind",
    "stack_layers",
    "tensor_metadata",
    "write_meta",
]

#: Version of the on-disk format; a reader refuses a larger one.
FORMAT_VERSION = 1

VECTORS_FILE = "vectors.safetensors"
META_FILE = "meta.parquet"
#: Manifest name -> the object a folder with that manifest holds.
MANIFESTS = {"space.json": "LatentSpace", "stack.json": "LayerStack", "manifest.json": "ShardedStack"}

#: The dtypes a store may declare; anything else in a manifest is refused, not looked up.
STORABLE_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
}


class FormatError(ValueError):
    """A file on disk is damaged or not what it claims to be; the message names it."""


# ----------------------------------------------------------------------------
# plain values
# ----------------------------------------------------------------------------


def json_safe(value: Mapping[str, Any] | None, what: str) -> dict:
    """``value`` as a dict, checked to be JSON-serialisable (TypeError naming ``what`` if not)."""
    value = dict(value or {})
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be JSON-serialisable (str, finite numbers, lists, dicts): {exc}") from None
    return value


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` -> ``"float32"``."""
    return str(dtype).replace("torch.", "")


def dtype_named(name: Any, where: str) -> torch.dtype:
    """The torch dtype a manifest declares, from a closed list (never ``getattr(torch, name)``).

    Examples
    --------
    >>> dtype_named("float16", "manifest.json")
    torch.float16
    """
    dtype = STORABLE_DTYPES.get(name) if isinstance(name, str) else None
    if dtype is None:
        raise FormatError(f"{where}: dtype {name!r} is not one of {sorted(STORABLE_DTYPES)}")
    return dtype


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise FormatError(f"repeats the key(s) {repeated}")
    return dict(pairs)


def read_json(path: Path) -> Any:
    """A JSON file, with errors that name the file, the line and what to do."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise FormatError(f"{path} is not UTF-8 text; it is damaged or not a workbench file") from None
    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicates)
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "the file is damaged: save again, or restore it from a copy"
        ) from None
    except FormatError as exc:
        raise FormatError(f"{path} {exc}; the file is damaged or was edited by hand") from None


def check_manifest(info: Any, where: Path, kind: str) -> dict:
    """Check a manifest's ``format`` and ``format_version``; return it."""
    if not isinstance(info, dict):
        raise FormatError(f"{where} holds a JSON {type(info).__name__}, not a workbench manifest")
    if info.get("format") != f"workbench.{kind}":
        raise FormatError(f"{where} describes {info.get('format')!r}, not a workbench.{kind}")
    version = info.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise FormatError(f"{where}: format_version {version!r} is not a positive integer; the file is damaged")
    if version > FORMAT_VERSION:
        raise FormatError(
            f"{where} was written in format version {version}, newer than this workbench "
            f"understands ({FORMAT_VERSION}); upgrade workbench to load it"
        )
    return info


# ----------------------------------------------------------------------------
# tensors and meta
# ----------------------------------------------------------------------------


def save_tensors(tensors: Mapping[str, torch.Tensor], path: Path, metadata: Mapping[str, str] | None = None) -> None:
    """Write ``tensors`` to a safetensors file; ``metadata`` (str to str) goes into its header."""
    from safetensors.torch import save_file

    header = {"format": "workbench", **(metadata or {})}
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(path), metadata=header)


def tensor_metadata(path: Path) -> dict[str, str]:
    """The string metadata in a safetensors header (empty when there is none)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), "pt") as handle:
            return dict(handle.metadata() or {})
    except SafetensorError as exc:
        raise FormatError(f"{path} is truncated or not a safetensors file ({exc})") from None


def load_tensors(path: Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file, on ``device``; never unpickles."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    device = str(device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"cannot load {path} onto {device!r}: this machine has no CUDA device; use device='cpu'")
    try:
        return load_file(str(path), device="cpu" if device == "auto" else device)
    except SafetensorError as exc:
        raise FormatError(
            f"{path} is truncated or not a safetensors file ({exc}); save the space again, "
            "or restore the file from a copy"
        ) from None
    except (RuntimeError, AssertionError) as exc:  # an unknown or unusable device
        raise ValueError(f"cannot load {path} onto device {device!r}: {exc}") from None


def write_meta(meta: pd.DataFrame, path: Path) -> None:
    try:
        meta.to_parquet(path, index=False, engine="pyarrow")
    except Exception as exc:  # pyarrow raises several types for unstorable columns
        raise TypeError(
            "meta cannot be stored as parquet (a column mixes types, or holds Python objects): "
            f"{exc}. Convert that column to str or numbers before saving."
        ) from exc


def read_meta(path: Path) -> pd.DataFrame:
    """The rows' meta; its ``id`` column must be there (a damaged file must not get made-up ids)."""
    import pyarrow

    try:
        meta = pd.read_parquet(path, engine="pyarrow")
    except (pyarrow.ArrowException, OSError) as exc:
        raise FormatError(f"{path} is truncated or not a parquet file ({exc}); the save is damaged") from None
    if "id" not in meta.columns:
        raise FormatError(f"{path} has no 'id' column (columns: {list(meta.columns)[:8]}); the save is damaged")
    return meta


# ----------------------------------------------------------------------------
# atomic writes
# ----------------------------------------------------------------------------


def _leftover(path: Path, kind: str, token: str) -> Path:
    return path.parent / f".{path.name}.{kind}-{token}"


def _leftovers(path: Path, kind: str) -> dict[str, Path]:
    prefix = f".{path.name}.{kind}-"
    if not path.parent.is_dir():
        return {}
    return {p.name[len(prefix):]: p for p in path.parent.iterdir() if p.name.startswith(prefix)}


def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems cannot fsync a folder
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_tree(root: Path) -> None:
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            _fsync(Path(dirpath) / name)
        _fsync(Path(dirpath))


def _remove_leftovers(path: Path) -> None:
    for kind in ("tmp", "old"):
        for leftover in _leftovers(path, kind).values():
            shutil.rmtree(leftover, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``path`` once the block succeeds.

    Parameters
    ----------
    path : path-like
        Final location of the folder.
    overwrite : bool, default True
        Replace an existing folder. With False an existing ``path`` raises
        ``FileExistsError`` before anything is written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_directory(root / "out") as tmp:
    ...     _ = (tmp / "a.txt").write_text("done")
    >>> (root / "out" / "a.txt").read_text()
    'done'
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{path} exists and is not a folder; refusing to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    tmp = _leftover(path, "tmp", token)
    tmp.mkdir()
    try:
        yield tmp
        _fsync_tree(tmp)
        if path.exists():
            old = _leftover(path, "old", token)
            os.rename(path, old)
            os.rename(tmp, path)
            _fsync(path.parent)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
            _fsync(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _remove_leftovers(path)  # what earlier crashes left, now superseded


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "wb") -> Iterator:
    """Open a temporary file that atomically replaces ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _leftover(path, "tmp", uuid.uuid4().hex[:12])
    try:
        with open(tmp, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def recover_directory(path: str | os.PathLike) -> bool:
    """Finish a replacement that a crash interrupted between its two renames.

    Returns True when a version was put in place. Only a pair of leftovers
    with the same token (the version set aside and the complete new one)
    is restored, the new one going in; a lone ``.old-`` folder is stale and
    stays where it is, so a deleted save never comes back.
    """
    path = Path(path)
    if path.exists() or not path.parent.is_dir():
        return False
    olds, tmps = _leftovers(path, "old"), _leftovers(path, "tmp")
    # the old version is set aside only once the new one is complete (its manifest fsynced)
    pairs = [token for token in olds if token in tmps and tmps[token].is_dir()]
    if not pairs:
        return False
    newest = max(pairs, key=lambda token: tmps[token].stat().st_mtime_ns)
    os.rename(tmps[newest], path)
    _fsync(path.parent)
    shutil.rmtree(olds[newest], ignore_errors=True)
    return True


def describe_leftovers(path: Path) -> str:
    """A sentence naming the leftovers of interrupted saves next to ``path`` ('' when none)."""
    found = sorted(p.name for kind in ("tmp", "old") for p in _leftovers(path, kind).values())
    if not found:
        return ""
    return (
        f"; next to it are leftovers of interrupted saves ({', '.join(found[:4])}"
        f"{', ...' if len(found) > 4 else ''}) that were not restored because none is a complete replacement "
        f"in progress (a lone .old- folder is a version that was replaced, or deleted). To use one, rename it to "
        f"{path.name}; otherwise delete them"
    )


# ----------------------------------------------------------------------------
# whole folders
# ----------------------------------------------------------------------------


def saved_kind(path: Path) -> str | None:
    """What workbench save ``path`` holds ("LatentSpace", ...), or None."""
    for name, kind in MANIFESTS.items():
        if (path / name).is_file():
            return kind
    return None


def check_destination(path: Path, kind: str, overwrite: bool) -> None:
    """Refuse to replace anything but a workbench save, and a save unless ``overwrite``."""
    if not path.exists() and not path.is_symlink():
        return
    if not path.is_dir() or path.is_symlink():
        raise FileExistsError(
            f"{path} exists and is {'a link' if path.is_symlink() else 'a file'}, not a saved {kind}; "
            "refusing to replace it: choose another path"
        )
    content = sorted(path.iterdir())
    if not content:
        return
    held = saved_kind(path)
    if held is None:
        names = [p.name + ("/" if p.is_dir() else "") for p in content[:5]]
        more = f" and {len(content) - 5} more" if len(content) > 5 else ""
        raise FileExistsError(
            f"{path} exists and is not a {kind} or other workbench save (it holds {', '.join(names)}{more}); refusing to "
            "replace it, whatever overwrite says: choose another path, or move those files away"
        )
    if not overwrite:
        raise FileExistsError(
            f"{path} already holds a saved {held}; pass overwrite=True (workbench encode: --overwrite) to replace it"
        )


def save_folder(
    path: str | os.PathLike,
    *,
    kind: str,
    manifest: str,
    info: dict,
    tensors: Mapping[str, torch.Tensor],
    meta: pd.DataFrame,
    overwrite: bool,
    tensor_header: Mapping[str, str] | None = None,
) -> Path:
    """Write tensors, meta and (last, as completeness marker) the manifest into ``path``, atomically."""
    path = Path(path)
    recover_directory(path)
    check_destination(path, kind, overwrite)
    info = {"format": f"workbench.{kind}", "format_version": FORMAT_VERSION, **info}
    with atomic_directory(path) as tmp:
        save_tensors(tensors, tmp / VECTORS_FILE, tensor_header)
        write_meta(meta, tmp / META_FILE)
        # a flipped byte in the vectors would still load as (wrong) finite numbers: record checksums
        info["files"] = {name: _digest(tmp / name) for name in (VECTORS_FILE, META_FILE)}
        with atomic_file(tmp / manifest, "w") as handle:
            json.dump(info, handle, indent=2)
    return path


def open_folder(path: str | os.PathLike, kind: str, manifest: str) -> dict:
    """The checked manifest of a saved folder, after recovering an interrupted replacement."""
    path = Path(path)
    recover_directory(path)
    if not path.is_dir():
        if path.exists():
            raise FileNotFoundError(f"{path} is a file, not a saved {kind} (a folder)")
        raise FileNotFoundError(f"no saved {kind} at {path}{describe_leftovers(path)}")
    if not (path / manifest).is_file():
        held = saved_kind(path)
        hint = f" (it holds a saved {held}: use {held}.load / .open)" if held else ""
        raise FileNotFoundError(f"{path} is not a saved {kind}: {manifest} is missing{hint}")
    info = check_manifest(read_json(path / manifest), path / manifest, kind)
    for name in (VECTORS_FILE, META_FILE):
        if not (path / name).is_file():
            raise FileNotFoundError(f"{path} is incomplete: {name} is missing")
    files = info.get("files")
    if files is not None:  # saves before checksums have none
        for name in (VECTORS_FILE, META_FILE):
            expected = files.get(name) if isinstance(files, dict) else None
            if expected != _digest(path / name):
                raise FormatError(
                    f"{path / name} does not match the checksum in {manifest}: the file was damaged or replaced "
                    "after saving; save again, or restore it from a copy"
                )
    return info


def _digest(path: Path) -> dict:
    # CRC-32 finds accidental damage at ~4x blake2b's speed; it is no defence against a forger,
    # who could rewrite the manifest as well
    import zlib

    crc = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            crc = zlib.crc32(block, crc)
    return {"size": path.stat().st_size, "crc32": f"{crc:08x}"}


def field(info: Mapping, name: str, check: Callable[[Any], bool], expected: str, where: Path) -> Any:
    """``info[name]``, refused with the file and the field when it fails ``check``."""
    value = info.get(name) if isinstance(info, Mapping) else None
    if not check(value):
        raise FormatError(f"{where}: field {name!r} must be {expected}; got {value!r}")
    return value


#: Safetensors header entry of a saved stack: its layer keys as JSON, a second record the manifest is checked against
LAYER_KEYS = "layer_keys"


def layer_keys_header(keys: list) -> dict[str, str]:
    """The safetensors header entry that records a stack's layer keys in order."""
    return {LAYER_KEYS: json.dumps(keys)}


def check_layer_keys(layers: list[dict], tensors: Mapping[str, torch.Tensor], vectors: Path, manifest: Path) -> None:
    """Refuse a stack whose manifest lists other layers than its vectors file holds.

    Saves before the header entry existed are checked on the count alone.
    """
    if len(tensors) != len(layers):
        raise FormatError(f"{manifest} lists {len(layers)} layer(s) but {vectors} holds {len(tensors)}; "
                          "one of them is damaged")  # fmt: skip
    recorded = tensor_metadata(vectors).get(LAYER_KEYS)
    if recorded is None:
        return
    try:
        recorded_keys = json.loads(recorded)
    except ValueError:
        raise FormatError(f"{vectors}: its header's layer keys are not JSON; the file is damaged") from None
    keys = [layer["key"] for layer in layers]
    if recorded_keys != keys:
        raise FormatError(f"{manifest} names the layers {keys} but {vectors} was saved with {recorded_keys}; "
                          "one of the two files was damaged or replaced")  # fmt: skip


def stack_layers(info: dict, where: Path) -> list[dict]:
    """The manifest's layer list, refusing what would silently drop or merge a layer."""
    layers = info.get("layers")
    if not isinstance(layers, list) or not layers or not all(isinstance(layer, dict) for layer in layers):
        raise FormatError(f"{where}: field 'layers' must be a non-empty list of objects; the file is damaged")
    keys = [layer.get("key") for layer in layers]
    for key in keys:
        if isinstance(key, bool) or not isinstance(key, (int, str)):
            raise FormatError(f"{where}: layer key {key!r} is not an int or a str; the file is damaged")
    repeated = sorted({str(key) for key in keys if keys.count(key) > 1})
    if repeated:
        raise FormatError(f"{where}: layer key(s) {repeated} appear more than once; the file is damaged")
    return layers
