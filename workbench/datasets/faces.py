"""Synthetic faces whose expression and identity are set by known parameters.

Every face is a small PIL drawing. Its **expression** comes from a handful of
parameters with a plain geometric meaning, set per emotion and scaled by
intensity; its **identity** (face shape, skin tone, hair, eye colour,
glasses) is drawn from a seeded random generator *independently* of the
emotion. A vision model that separates emotions on these faces must therefore
read the expression, not the person; and because the parameters travel with
every row, a probe can ask which of them a layer carries.

Expression parameters
---------------------
``mouth_curve``   lip corners up (+1, smile) .. down (-1, frown)
``mouth_open``    lips closed (0) .. jaw dropped (1)
``mouth_width``   lips pressed narrow (-1) .. stretched wide (+1)
``brow_angle``    inner ends of the brows up (+1, "worried") .. down (-1, "V" of anger)
``brow_height``   brows lowered (-1) .. raised high (+1)
``eye_open``      lids narrowed (< 1) .. wide open (> 1); 1 is relaxed
``blush``         cheek colour, 0 .. 1

Values at full intensity (intensity 3). The expression at intensity ``i`` is
``neutral + s(i) * (full - neutral)`` with ``s(i) = 0.1 + 0.3 i`` (so 0.4,
0.7 and 1.0 for intensities 1, 2, 3), the same scale the synthetic speech
uses.

==========  =====  =====  =====  =====  =====  =====  =====
emotion     curve  open   width  angle  height eyes   blush
==========  =====  =====  =====  =====  =====  =====  =====
neutral      0.0   0.0    0.0    0.0    0.0    1.00   0.0
joy          1.0   0.35   0.3    0.0    0.2    0.80   0.25
love         0.6   0.0    0.1    0.25   0.1    0.70   0.9
surprise     0.0   0.9   -0.4    0.0    1.0    1.60   0.0
fear        -0.3   0.45   0.5    0.8    0.6    1.50   0.0
anger       -0.5   0.0   -0.3   -1.0   -0.6    0.80   0.0
sadness     -0.9   0.0    0.0    0.8   -0.1    0.75   0.0
==========  =====  =====  =====  =====  =====  =====  =====

The choices follow the facial action units that Ekman and Friesen's Facial
Action Coding System (1978) associates with the basic emotions: joy raises
the lip corners and the cheeks (which narrows the eyes); surprise raises the
brows, widens the eyes and drops the jaw; fear raises and draws together the
brows (inner ends up), widens the eyes and stretches the lips; anger lowers
and draws the brows together and presses the lips; sadness raises the inner
brows and pulls the lip corners down. Love has no action-unit prototype; its
row (soft smile, relaxed lids, blush) is our own choice. The numbers are ours.

Identity parameters (independent of emotion)
---------------------------------------------
``face_shape`` (oval, round, square), ``face_width``, ``skin`` (six tones),
``hair_colour`` (six), ``hair_style`` (short, fringe, long, bald),
``eye_colour`` (four), ``glasses`` (about one face in four).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd

from workbench.datasets._intensity import interpolate
from workbench.datasets.schema import check_frame
from workbench.extras import require

__all__ = [
    "Expression",
    "Identity",
    "FACE_EXPRESSIONS",
    "expression_for",
    "random_identity",
    "draw_face",
    "faces_for",
    "make_faces",
]

_EMOTIONS = ("neutral", "joy", "love", "surprise", "fear", "anger", "sadness")


@dataclass(frozen=True)
class Expression:
    """The geometric parameters of a facial expression (see the module docstring)."""

    mouth_curve: float = 0.0
    mouth_open: float = 0.0
    mouth_width: float = 0.0
    brow_angle: float = 0.0
    brow_height: float = 0.0
    eye_open: float = 1.0
    blush: float = 0.0


@dataclass(frozen=True)
class Identity:
    """Who the face is: everything about it that does not depend on the emotion."""

    face_shape: str = "oval"
    face_width: float = 1.0
    skin: str = "light"
    hair_colour: str = "brown"
    hair_style: str = "short"
    eye_colour: str = "brown"
    glasses: bool = False


#: Expression of each emotion at full intensity (intensity 3).
FACE_EXPRESSIONS: dict[str, Expression] = {
    "neutral": Expression(),
    "joy": Expression(1.0, 0.35, 0.3, 0.0, 0.2, 0.80, 0.25),
    "love": Expression(0.6, 0.0, 0.1, 0.25, 0.1, 0.70, 0.9),
    "surprise": Expression(0.0, 0.9, -0.4, 0.0, 1.0, 1.60, 0.0),
    "fear": Expression(-0.3, 0.45, 0.5, 0.8, 0.6, 1.50, 0.0),
    "anger": Expression(-0.5, 0.0, -0.3, -1.0, -0.6, 0.80, 0.0),
    "sadness": Expression(-0.9, 0.0, 0.0, 0.8, -0.1, 0.75, 0.0),
}

_SKIN = {
    "porcelain": (255, 228, 206), "light": (241, 200, 160), "medium": (224, 172, 115),
    "olive": (198, 140, 83), "brown": (141, 90, 50), "dark": (92, 60, 38),
}
_HAIR = {
    "black": (28, 24, 22), "dark brown": (68, 44, 26), "brown": (112, 76, 42),
    "blonde": (222, 192, 120), "red": (168, 72, 36), "grey": (168, 168, 168),
}
_EYES = {"brown": (92, 56, 30), "blue": (60, 110, 170), "green": (70, 130, 80), "hazel": (130, 100, 50)}
_SHAPES = ("oval", "round", "square")
_STYLES = ("short", "fringe", "long", "bald")
_BACKGROUND = (236, 236, 232)
_SUPERSAMPLE = 4


def expression_for(emotion: str, intensity: float = 3) -> Expression:
    """The expression of ``emotion`` at ``intensity`` (1 mild .. 3 strong).

    Examples
    --------
    >>> round(expression_for("joy", 3).mouth_curve, 6)
    1.0
    >>> round(expression_for("joy", 1).mouth_curve, 2)
    0.4
    """
    if emotion not in FACE_EXPRESSIONS:
        raise ValueError(f"no face expression for emotion {emotion!r}; known: {sorted(FACE_EXPRESSIONS)}")
    return Expression(**interpolate(asdict(FACE_EXPRESSIONS["neutral"]), asdict(FACE_EXPRESSIONS[emotion]), intensity))


def random_identity(rng: np.random.Generator) -> Identity:
    """Draw an identity (face shape, skin, hair, eyes, glasses) from ``rng``.

    Examples
    --------
    >>> random_identity(np.random.default_rng(0)) == random_identity(np.random.default_rng(0))
    True
    """
    return Identity(
        face_shape=str(rng.choice(_SHAPES)),
        face_width=float(np.round(rng.uniform(0.88, 1.1), 3)),
        skin=str(rng.choice(list(_SKIN))),
        hair_colour=str(rng.choice(list(_HAIR))),
        hair_style=str(rng.choice(_STYLES, p=[0.35, 0.25, 0.3, 0.1])),
        eye_colour=str(rng.choice(list(_EYES))),
        glasses=bool(rng.random() < 0.25),
    )


# ----------------------------------------------------------------------------
# drawing
# ----------------------------------------------------------------------------


def _shade(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(int(np.clip(c * factor, 0, 255)) for c in colour)


def _quadratic(p0, p1, p2, n: int = 24) -> list[tuple[float, float]]:
    """Points on the quadratic Bezier curve p0 -> p2 pulled towards p1."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    points = (1 - t) ** 2 * np.asarray(p0) + 2 * (1 - t) * t * np.asarray(p1) + t**2 * np.asarray(p2)
    return [tuple(p) for p in points]


class _Canvas:
    """Draws in unit coordinates (0..1) on a supersampled image."""

    def __init__(self, size: int) -> None:
        Image = require("PIL.Image", feature="synthetic faces")
        ImageDraw = require("PIL.ImageDraw", feature="synthetic faces")
        self.size = size
        self.side = size * _SUPERSAMPLE
        self.image = Image.new("RGB", (self.side, self.side), _BACKGROUND)
        self.draw = ImageDraw.Draw(self.image)

    def px(self, value: float) -> float:
        return value * self.side

    def box(self, cx: float, cy: float, rx: float, ry: float) -> list[float]:
        return [self.px(cx - rx), self.px(cy - ry), self.px(cx + rx), self.px(cy + ry)]

    def ellipse(self, cx, cy, rx, ry, fill=None, outline=None, width: float = 0.0) -> None:
        self.draw.ellipse(self.box(cx, cy, rx, ry), fill=fill, outline=outline, width=max(1, round(self.px(width))))

    def line(self, points, fill, width: float) -> None:
        self.draw.line([(self.px(x), self.px(y)) for x, y in points], fill=fill, width=max(1, round(self.px(width))), joint="curve")

    def polygon(self, points, fill) -> None:
        self.draw.polygon([(self.px(x), self.px(y)) for x, y in points], fill=fill)

    def result(self):
        from PIL import Image

        return self.image.resize((self.size, self.size), Image.Resampling.LANCZOS)


def _head(canvas: _Canvas, identity: Identity, skin, hair) -> tuple[float, float, float, float]:
    cx, cy = 0.5, 0.53
    rx = 0.29 * identity.face_width * (1.04 if identity.face_shape == "round" else 1.0)
    ry = 0.37 * (0.9 if identity.face_shape == "round" else 1.0)
    if identity.hair_style == "long":  # hair that falls behind the face
        canvas.draw.rounded_rectangle(canvas.box(cx, cy + 0.05, rx + 0.06, ry + 0.04), radius=canvas.px(0.2), fill=hair)
    for side in (-1, 1):  # ears
        canvas.ellipse(cx + side * rx, cy + 0.01, 0.045, 0.07, fill=_shade(skin, 0.93))
    if identity.face_shape == "square":
        canvas.draw.rounded_rectangle(canvas.box(cx, cy, rx, ry), radius=canvas.px(0.12), fill=skin)
    else:
        canvas.ellipse(cx, cy, rx, ry, fill=skin)
    top = cy - ry
    if identity.hair_style in ("short", "fringe", "long"):
        canvas.draw.chord(canvas.box(cx, top + 0.14, rx + 0.02, 0.17), 180, 360, fill=hair)
    if identity.hair_style == "fringe":
        canvas.polygon([(cx - rx + 0.02, top + 0.12), (cx + rx - 0.02, top + 0.12), (cx + rx - 0.07, top + 0.19),
                        (cx - rx + 0.07, top + 0.19)], fill=hair)
    return cx, cy, rx, ry


def _eyes(canvas: _Canvas, e: Expression, identity: Identity, skin, cx: float, y: float) -> None:
    half_height = 0.03 * float(np.clip(e.eye_open, 0.15, 2.0))
    iris = _EYES[identity.eye_colour]
    for side in (-1, 1):
        x = cx + side * 0.105
        canvas.ellipse(x, y, 0.052, half_height, fill=(250, 250, 250), outline=_shade(skin, 0.55), width=0.008)
        radius = min(0.022, half_height * 0.95)
        canvas.ellipse(x, y, radius, radius, fill=iris)
        canvas.ellipse(x, y, radius * 0.45, radius * 0.45, fill=(15, 15, 15))
        if identity.glasses:
            canvas.draw.rounded_rectangle(canvas.box(x, y, 0.075, 0.055), radius=canvas.px(0.02),
                                          outline=(40, 40, 45), width=round(canvas.px(0.012)))
    if identity.glasses:
        canvas.line([(cx - 0.03, y - 0.01), (cx + 0.03, y - 0.01)], fill=(40, 40, 45), width=0.012)


def _brows(canvas: _Canvas, e: Expression, colour, cx: float, eye_y: float) -> None:
    base = eye_y - 0.075 - 0.035 * e.brow_height
    for side in (-1, 1):
        inner = (cx + side * 0.045, base - 0.035 * e.brow_angle)
        outer = (cx + side * 0.16, base + 0.012 * e.brow_angle)
        middle = ((inner[0] + outer[0]) / 2, (inner[1] + outer[1]) / 2 - 0.012)
        canvas.line(_quadratic(inner, middle, outer, 12), fill=colour, width=0.022)


def _mouth(canvas: _Canvas, e: Expression, skin, cx: float, y: float) -> None:
    half_width = 0.1 * (1 + 0.35 * e.mouth_width) * (1 + 0.15 * max(e.mouth_curve, 0.0))
    corner_y = y - 0.045 * e.mouth_curve
    left, right = (cx - half_width, corner_y), (cx + half_width, corner_y)
    upper_pull = y + 0.02 * e.mouth_curve - 0.01 * e.mouth_open
    lower_pull = upper_pull + 0.14 * e.mouth_open
    upper = _quadratic(left, (cx, upper_pull), right)
    lips = _shade(skin, 0.62)
    if e.mouth_open > 0.05:
        lower = _quadratic(right, (cx, lower_pull), left)
        canvas.polygon(upper + lower, fill=(95, 30, 35))
        canvas.line(upper + lower + upper[:1], fill=lips, width=0.018)
    else:
        canvas.line(upper, fill=lips, width=0.024)


def draw_face(expression: Expression, identity: Identity = Identity(), *, size: int = 96):
    """Draw one face.

    Parameters
    ----------
    expression : Expression
        See :func:`expression_for`.
    identity : Identity
        See :func:`random_identity`.
    size : int
        Side of the square RGB image in pixels (drawn 4x larger, then
        downsampled, so edges are smooth).

    Returns
    -------
    PIL.Image.Image of mode "RGB" and size (size, size)

    Examples
    --------
    >>> draw_face(expression_for("anger", 2), size=64).size
    (64, 64)
    """
    if int(size) < 16:
        raise ValueError(f"size must be at least 16 pixels; got {size}")
    canvas = _Canvas(int(size))
    skin, hair = _SKIN[identity.skin], _HAIR[identity.hair_colour]
    cx, cy, rx, ry = _head(canvas, identity, skin, hair)
    if expression.blush > 0:
        blush = tuple(int(s + (c - s) * 0.55 * min(expression.blush, 1.0)) for s, c in zip(skin, (235, 105, 120)))
        for side in (-1, 1):
            canvas.ellipse(cx + side * 0.15, cy + 0.07, 0.055, 0.035, fill=blush)
    eye_y = cy - 0.06
    _eyes(canvas, expression, identity, skin, cx, eye_y)
    brow = _shade(hair, 0.8) if identity.hair_style != "bald" else _shade(skin, 0.45)
    _brows(canvas, expression, brow, cx, eye_y)
    canvas.line([(cx, eye_y + 0.04), (cx - 0.02, cy + 0.06), (cx + 0.015, cy + 0.07)], fill=_shade(skin, 0.75), width=0.01)
    _mouth(canvas, expression, skin, cx, cy + 0.18)
    return canvas.result()


# ----------------------------------------------------------------------------
# data sets
# ----------------------------------------------------------------------------


def _identity_key(key) -> int:
    return zlib.crc32(str(key).encode())


def _identity_rng(seed: int, key) -> np.random.Generator:
    return np.random.default_rng([int(seed), _identity_key(key)])


def faces_for(
    frame: pd.DataFrame,
    *,
    seed: int = 0,
    size: int = 96,
    identity_by: str = "id",
    progress: bool = False,
) -> pd.DataFrame:
    """One face per row of ``frame``, with that row's ``emotion`` and ``intensity``.

    Each row's identity is drawn from a generator seeded by ``seed`` and the
    row's value in ``identity_by`` (its CRC-32): with the default ``"id"``
    every row is a different person, independent of its emotion, and an id
    gets the same face whatever other rows are drawn with it. Rows sharing a
    value of another column (``"speaker"``, say) share a face.

    Parameters
    ----------
    frame : DataFrame
        Needs ``emotion`` and ``intensity`` columns (``id`` is added when
        absent). Other columns are kept; a ``text`` or ``audio`` column is
        kept too, so call :func:`~workbench.datasets.check_frame` with
        ``modality="image"`` on the result.
    seed : int
    size : int
        Image side in pixels.
    identity_by : str
        Column whose value picks the person (see above).
    progress : bool
        Show a progress bar.

    Returns
    -------
    DataFrame
        The rows of ``frame`` with ``image`` (PIL image), ``identity`` (a
        string naming the drawn person), the identity parameters and the
        expression parameters as columns.

    Examples
    --------
    >>> rows = pd.DataFrame({"id": ["a", "b"], "emotion": ["joy", "anger"], "intensity": [3, 1]})
    >>> faces_for(rows, size=32)[["id", "emotion", "mouth_curve"]].round(2).values.tolist()
    [['a', 'joy', 1.0], ['b', 'anger', -0.2]]
    """
    from tqdm.auto import tqdm

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame; got {type(frame).__name__}")
    frame = frame.reset_index(drop=True).copy()
    if "id" not in frame.columns:
        frame.insert(0, "id", np.arange(len(frame)))
    missing = [c for c in ("emotion", "intensity", identity_by) if c not in frame.columns]
    if missing:
        raise ValueError(f"faces_for needs column(s) {missing}; got {list(frame.columns)}")
    images, identities, expressions = [], [], []
    rows = zip(frame[identity_by], frame["emotion"], frame["intensity"])
    for key, emotion, intensity in tqdm(rows, total=len(frame), desc="faces", disable=not progress):
        identity = random_identity(_identity_rng(seed, key))
        expression = expression_for(str(emotion), float(intensity))
        images.append(draw_face(expression, identity, size=size))
        identities.append(identity)
        expressions.append(expression)
    frame["image"] = images
    frame["identity"] = [f"face-{seed}-{_identity_key(key):08x}" for key in frame[identity_by]]
    for field in fields(Identity):
        frame[field.name] = [getattr(identity, field.name) for identity in identities]
    for field in fields(Expression):
        frame[field.name] = [getattr(expression, field.name) for expression in expressions]
    return frame


def make_faces(
    n_per_cell: int = 4,
    *,
    emotions: Iterable[str] | None = None,
    intensities: Sequence[int] = (1, 2, 3),
    seed: int = 0,
    size: int = 96,
    progress: bool = False,
) -> pd.DataFrame:
    """A balanced set of synthetic faces: ``n_per_cell`` per emotion and intensity.

    Identity is crossed with emotion: there are ``n_per_cell *
    len(intensities)`` persons and each shows every emotion once (at one of
    the intensities), so nothing about a person predicts the emotion.
    Neutral faces get intensity 0 (one cell holding every person once),
    since a neutral face has no strength.

    Parameters
    ----------
    n_per_cell : int
        Faces per (emotion, intensity) pair.
    emotions : iterable of str, optional
        Default: all seven (neutral, joy, love, surprise, fear, anger, sadness).
    intensities : sequence of int
        Values in 1..3.
    seed : int
        Same seed, same pixels.
    size : int
        Image side in pixels.

    Returns
    -------
    DataFrame
        Standard shape with ``id, image, emotion, intensity, person,
        identity`` and the identity and expression parameters (see
        :func:`faces_for`).

    Examples
    --------
    >>> faces = make_faces(1, emotions=["joy", "neutral"], size=32)
    >>> faces[["id", "emotion", "intensity"]].values.tolist()[:2]
    [['face-joy-1-0', 'joy', 1], ['face-joy-2-0', 'joy', 2]]
    """
    emotions = list(_EMOTIONS if emotions is None else emotions)
    unknown = sorted(set(emotions) - set(FACE_EXPRESSIONS))
    if unknown:
        raise ValueError(f"no face expression for {unknown}; known: {sorted(FACE_EXPRESSIONS)}")
    if n_per_cell < 1:
        raise ValueError(f"n_per_cell must be at least 1; got {n_per_cell}")
    rows = []
    for emotion in emotions:
        cells = [0] if emotion == "neutral" else list(intensities)
        per_cell = n_per_cell * len(intensities) if emotion == "neutral" else n_per_cell
        for j, intensity in enumerate(cells):
            rows += [
                (f"face-{emotion}-{intensity}-{k}", emotion, int(intensity), j * n_per_cell + k)
                for k in range(per_cell)
            ]
    grid = pd.DataFrame(rows, columns=["id", "emotion", "intensity", "person"])
    faces = faces_for(grid, seed=seed, size=size, identity_by="person", progress=progress)
    return check_frame(faces, modality="image")
