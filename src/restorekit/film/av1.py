"""AV1 film grain: the parameters, aomenc's grain tables, the spec's synthesis and a fit.

An AV1 stream does not carry the grain of the source: the encoder removes it, codes the clean
picture and sends a few numbers (:class:`AV1GrainParams`) with which every decoder synthesises
the same grain again (AV1 specification, section 7.18.3). This module has the four parts of that:

- :class:`AV1GrainParams`, every field of the film grain syntax (spec 5.9.30 and 6.8.20), with
  the spec's ranges checked by :meth:`AV1GrainParams.validate`.
- The text tables that ``aomenc --film-grain-table`` reads and writes (libaom's
  ``aom_dsp/grain_table.c``): :func:`parse_grain_table`, :func:`format_grain_table`,
  :func:`read_grain_table`, :func:`write_grain_table`.
- The synthesis, bit exact with the spec and with dav1d (tested against the real decoder):
  :func:`apply_av1_grain` on 8-bit planes, and :func:`av1_grain` (with its module twin
  :class:`AV1Grain`) for the library's float images.
- :func:`fit_av1_table`: parameters that reproduce a measured grain (its spectrum through the
  auto-regressive filter, its strength through the scaling functions).

The synthesis in short (all integer arithmetic, :math:`\\mathrm{Round2}(x, n) =
(x + 2^{n-1}) \\gg n`): a 16-bit linear-feedback shift register seeded with ``random_seed``
picks entries of a fixed table of 2048 Gaussian numbers; they fill a 73 x 82 luma template
(38 x 44 for 4:2:0 chroma), which a causal auto-regressive filter of lag ``L`` (0 to 3, with
``2L(L+1)`` coefficients, plus one on the co-located luma grain for chroma) colours. The picture
is cut in 32 x 32 blocks; each takes a 32 x 32 crop of the template at an offset drawn from a
register seeded per block row, optionally blended with its neighbours over 2 pixels. The grain
value ``g`` is scaled by a piecewise-linear function ``f`` of the pixel value (for chroma, of a
mix of the chroma value and the co-located luma):

.. math::

    y' = \\mathrm{clip}\\big(y + \\mathrm{Round2}(f(y)\\, g,\\ \\mathrm{scaling\\_shift})\\big).

Only 8-bit pictures are supported (the spec's ``BitDepth`` is 8 throughout).

What aomenc 3.6 and dav1d 1.0 do, as the tests check them:

- dav1d's grain equals :func:`apply_av1_grain` bit for bit (monochrome, 4:2:0, 4:2:2, 4:4:4,
  odd sizes, lags 0 to 3, overlap or not, chroma scaled from luma or by its own points).
- aomenc does not code a table entry's ``random_seed`` itself: the first frame gets
  ``random_seed + 3381`` (mod 65536, 7391 in place of 0), as libaom steps the seed for the next
  frame before it writes the frame header.
- Table times are in ticks of 1/10,000,000 s: at 25 frames/s the second frame is at 400,000.
- A table cannot carry ``clip_to_restricted_range`` (aomenc codes 0).
- ``aomenc --monochrome`` aborts (an assertion in libaom's bitstream writer) on a table entry
  with Cb or Cr scaling points: give a monochrome encode a luma-only table.

References:
    AV1 Bitstream & Decoding Process Specification (AOMedia, 2019), sections 5.9.30 (film grain
    params syntax), 6.8.20 (semantics) and 7.18.3 (film grain synthesis process).
    A. Norkin and N. Birkbeck, "Film grain synthesis for AV1 video codec", DCC 2018.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from restorekit._checks import check_image
from restorekit.errors import RestorekitError
from restorekit.io.files import atomic_write

__all__ = [
    "GRAIN_TABLE_END",
    "AV1Grain",
    "AV1GrainParams",
    "GrainTable",
    "GrainTableEntry",
    "aomenc_stream_seed",
    "apply_av1_grain",
    "av1_grain",
    "fit_av1_table",
    "format_grain_table",
    "parse_grain_table",
    "read_grain_table",
    "rgb_to_av1_ycbcr",
    "write_grain_table",
]

# The spec's Gaussian_Sequence (section 7.18.3.3): 2048 samples of a zero-mean Gaussian on the
# 12-bit scale (standard deviation about 512). The same numbers are in libaom
# (av1/decoder/grain_synthesis.c) and dav1d (src/tables.c).
# fmt: off
_GAUSSIAN_SEQUENCE = np.array(
    [
        56, 568, -180, 172, 124, -84, 172, -64, -900, 24, 820, 224, 1248, 996, 272, -8, -916, -388,
        -732, -104, -188, 800, 112, -652, -320, -376, 140, -252, 492, -168, 44, -788, 588, -584,
        500, -228, 12, 680, 272, -476, 972, -100, 652, 368, 432, -196, -720, -192, 1000, -332, 652,
        -136, -552, -604, -4, 192, -220, -136, 1000, -52, 372, -96, -624, 124, -24, 396, 540, -12,
        -104, 640, 464, 244, -208, -84, 368, -528, -740, 248, -968, -848, 608, 376, -60, -292, -40,
        -156, 252, -292, 248, 224, -280, 400, -244, 244, -60, 76, -80, 212, 532, 340, 128, -36, 824,
        -352, -60, -264, -96, -612, 416, -704, 220, -204, 640, -160, 1220, -408, 900, 336, 20, -336,
        -96, -792, 304, 48, -28, -1232, -1172, -448, 104, -292, -520, 244, 60, -948, 0, -708, 268,
        108, 356, -548, 488, -344, -136, 488, -196, -224, 656, -236, -1128, 60, 4, 140, 276, -676,
        -376, 168, -108, 464, 8, 564, 64, 240, 308, -300, -400, -456, -136, 56, 120, -408, -116,
        436, 504, -232, 328, 844, -164, -84, 784, -168, 232, -224, 348, -376, 128, 568, 96, -1244,
        -288, 276, 848, 832, -360, 656, 464, -384, -332, -356, 728, -388, 160, -192, 468, 296, 224,
        140, -776, -100, 280, 4, 196, 44, -36, -648, 932, 16, 1428, 28, 528, 808, 772, 20, 268, 88,
        -332, -284, 124, -384, -448, 208, -228, -1044, -328, 660, 380, -148, -300, 588, 240, 540,
        28, 136, -88, -436, 256, 296, -1000, 1400, 0, -48, 1056, -136, 264, -528, -1108, 632, -484,
        -592, -344, 796, 124, -668, -768, 388, 1296, -232, -188, -200, -288, -4, 308, 100, -168,
        256, -500, 204, -508, 648, -136, 372, -272, -120, -1004, -552, -548, -384, 548, -296, 428,
        -108, -8, -912, -324, -224, -88, -112, -220, -100, 996, -796, 548, 360, -216, 180, 428,
        -200, -212, 148, 96, 148, 284, 216, -412, -320, 120, -300, -384, -604, -572, -332, -8, -180,
        -176, 696, 116, -88, 628, 76, 44, -516, 240, -208, -40, 100, -592, 344, -308, -452, -228,
        20, 916, -1752, -136, -340, -804, 140, 40, 512, 340, 248, 184, -492, 896, -156, 932, -628,
        328, -688, -448, -616, -752, -100, 560, -1020, 180, -800, -64, 76, 576, 1068, 396, 660, 552,
        -108, -28, 320, -628, 312, -92, -92, -472, 268, 16, 560, 516, -672, -52, 492, -100, 260,
        384, 284, 292, 304, -148, 88, -152, 1012, 1064, -228, 164, -376, -684, 592, -392, 156, 196,
        -524, -64, -884, 160, -176, 636, 648, 404, -396, -436, 864, 424, -728, 988, -604, 904, -592,
        296, -224, 536, -176, -920, 436, -48, 1176, -884, 416, -776, -824, -884, 524, -548, -564,
        -68, -164, -96, 692, 364, -692, -1012, -68, 260, -480, 876, -1116, 452, -332, -352, 892,
        -1088, 1220, -676, 12, -292, 244, 496, 372, -32, 280, 200, 112, -440, -96, 24, -644, -184,
        56, -432, 224, -980, 272, -260, 144, -436, 420, 356, 364, -528, 76, 172, -744, -368, 404,
        -752, -416, 684, -688, 72, 540, 416, 92, 444, 480, -72, -1416, 164, -1172, -68, 24, 424,
        264, 1040, 128, -912, -524, -356, 64, 876, -12, 4, -88, 532, 272, -524, 320, 276, -508, 940,
        24, -400, -120, 756, 60, 236, -412, 100, 376, -484, 400, -100, -740, -108, -260, 328, -268,
        224, -200, -416, 184, -604, -564, -20, 296, 60, 892, -888, 60, 164, 68, -760, 216, -296,
        904, -336, -28, 404, -356, -568, -208, -1480, -512, 296, 328, -360, -164, -1560, -776, 1156,
        -428, 164, -504, -112, 120, -216, -148, -264, 308, 32, 64, -72, 72, 116, 176, -64, -272,
        460, -536, -784, -280, 348, 108, -752, -132, 524, -540, -776, 116, -296, -1196, -288, -560,
        1040, -472, 116, -848, -1116, 116, 636, 696, 284, -176, 1016, 204, -864, -648, -248, 356,
        972, -584, -204, 264, 880, 528, -24, -184, 116, 448, -144, 828, 524, 212, -212, 52, 12, 200,
        268, -488, -404, -880, 824, -672, -40, 908, -248, 500, 716, -576, 492, -576, 16, 720, -108,
        384, 124, 344, 280, 576, -500, 252, 104, -308, 196, -188, -8, 1268, 296, 1032, -1196, 436,
        316, 372, -432, -200, -660, 704, -224, 596, -132, 268, 32, -452, 884, 104, -1008, 424,
        -1348, -280, 4, -1168, 368, 476, 696, 300, -8, 24, 180, -592, -196, 388, 304, 500, 724,
        -160, 244, -84, 272, -256, -420, 320, 208, -144, -156, 156, 364, 452, 28, 540, 316, 220,
        -644, -248, 464, 72, 360, 32, -388, 496, -680, -48, 208, -116, -408, 60, -604, -392, 548,
        -840, 784, -460, 656, -544, -388, -264, 908, -800, -628, -612, -568, 572, -220, 164, 288,
        -16, -308, 308, -112, -636, -760, 280, -668, 432, 364, 240, -196, 604, 340, 384, 196, 592,
        -44, -500, 432, -580, -132, 636, -76, 392, 4, -412, 540, 508, 328, -356, -36, 16, -220, -64,
        -248, -60, 24, -192, 368, 1040, 92, -24, -1044, -32, 40, 104, 148, 192, -136, -520, 56,
        -816, -224, 732, 392, 356, 212, -80, -424, -1008, -324, 588, -1496, 576, 460, -816, -848,
        56, -580, -92, -1372, -112, -496, 200, 364, 52, -140, 48, -48, -60, 84, 72, 40, 132, -356,
        -268, -104, -284, -404, 732, -520, 164, -304, -540, 120, 328, -76, -460, 756, 388, 588, 236,
        -436, -72, -176, -404, -316, -148, 716, -604, 404, -72, -88, -888, -68, 944, 88, -220, -344,
        960, 472, 460, -232, 704, 120, 832, -228, 692, -508, 132, -476, 844, -748, -364, -44, 1116,
        -1104, -1056, 76, 428, 552, -692, 60, 356, 96, -384, -188, -612, -576, 736, 508, 892, 352,
        -1132, 504, -24, -352, 324, 332, -600, -312, 292, 508, -144, -8, 484, 48, 284, -260, -240,
        256, -100, -292, -204, -44, 472, -204, 908, -188, -1000, -256, 92, 1164, -392, 564, 356,
        652, -28, -884, 256, 484, -192, 760, -176, 376, -524, -452, -436, 860, -736, 212, 124, 504,
        -476, 468, 76, -472, 552, -692, -944, -620, 740, -240, 400, 132, 20, 192, -196, 264, -668,
        -1012, -60, 296, -316, -828, 76, -156, 284, -768, -448, -832, 148, 248, 652, 616, 1236, 288,
        -328, -400, -124, 588, 220, 520, -696, 1032, 768, -740, -92, -272, 296, 448, -464, 412,
        -200, 392, 440, -200, 264, -152, -260, 320, 1032, 216, 320, -8, -64, 156, -1016, 1084, 1172,
        536, 484, -432, 132, 372, -52, -256, 84, 116, -352, 48, 116, 304, -384, 412, 924, -300, 528,
        628, 180, 648, 44, -980, -220, 1320, 48, 332, 748, 524, -268, -720, 540, -276, 564, -344,
        -208, -196, 436, 896, 88, -392, 132, 80, -964, -288, 568, 56, -48, -456, 888, 8, 552, -156,
        -292, 948, 288, 128, -716, -292, 1192, -152, 876, 352, -600, -260, -812, -468, -28, -120,
        -32, -44, 1284, 496, 192, 464, 312, -76, -516, -380, -456, -1012, -48, 308, -156, 36, 492,
        -156, -808, 188, 1652, 68, -120, -116, 316, 160, -140, 352, 808, -416, 592, 316, -480, 56,
        528, -204, -568, 372, -232, 752, -344, 744, -4, 324, -416, -600, 768, 268, -248, -88, -132,
        -420, -432, 80, -288, 404, -316, -1216, -588, 520, -108, 92, -320, 368, -480, -216, -92,
        1688, -300, 180, 1020, -176, 820, -68, -228, -260, 436, -904, 20, 40, -508, 440, -736, 312,
        332, 204, 760, -372, 728, 96, -20, -632, -520, -560, 336, 1076, -64, -532, 776, 584, 192,
        396, -728, -520, 276, -188, 80, -52, -612, -252, -48, 648, 212, -688, 228, -52, -260, 428,
        -412, -272, -404, 180, 816, -796, 48, 152, 484, -88, -216, 988, 696, 188, -528, 648, -116,
        -180, 316, 476, 12, -564, 96, 476, -252, -364, -376, -392, 556, -256, -576, 260, -352, 120,
        -16, -136, -260, -492, 72, 556, 660, 580, 616, 772, 436, 424, -32, -324, -1268, 416, -324,
        -80, 920, 160, 228, 724, 32, -516, 64, 384, 68, -128, 136, 240, 248, -204, -68, 252, -932,
        -120, -480, -628, -84, 192, 852, -404, -288, -132, 204, 100, 168, -68, -196, -868, 460,
        1080, 380, -80, 244, 0, 484, -888, 64, 184, 352, 600, 460, 164, 604, -196, 320, -64, 588,
        -184, 228, 12, 372, 48, -848, -344, 224, 208, -200, 484, 128, -20, 272, -468, -840, 384,
        256, -720, -520, -464, -580, 112, -120, 644, -356, -208, -608, -528, 704, 560, -424, 392,
        828, 40, 84, 200, -152, 0, -144, 584, 280, -120, 80, -556, -972, -196, -472, 724, 80, 168,
        -32, 88, 160, -688, 0, 160, 356, 372, -776, 740, -128, 676, -248, -480, 4, -364, 96, 544,
        232, -1032, 956, 236, 356, 20, -40, 300, 24, -676, -596, 132, 1120, -104, 532, -1096, 568,
        648, 444, 508, 380, 188, -376, -604, 1488, 424, 24, 756, -220, -192, 716, 120, 920, 688,
        168, 44, -460, 568, 284, 1144, 1160, 600, 424, 888, 656, -356, -320, 220, 316, -176, -724,
        -188, -816, -628, -348, -228, -380, 1012, -452, -660, 736, 928, 404, -696, -72, -268, -892,
        128, 184, -344, -780, 360, 336, 400, 344, 428, 548, -112, 136, -228, -216, -820, -516, 340,
        92, -136, 116, -300, 376, -244, 100, -316, -520, -284, -12, 824, 164, -548, -180, -128, 116,
        -924, -828, 268, -368, -580, 620, 192, 160, 0, -1676, 1068, 424, -56, -360, 468, -156, 720,
        288, -528, 556, -364, 548, -148, 504, 316, 152, -648, -620, -684, -24, -376, -384, -108,
        -920, -1032, 768, 180, -264, -508, -1268, -260, -60, 300, -240, 988, 724, -376, -576, -212,
        -736, 556, 192, 1092, -620, -880, 376, -56, -4, -216, -32, 836, 268, 396, 1332, 864, -600,
        100, 56, -412, -92, 356, 180, 884, -468, -436, 292, -388, -804, -704, -840, 368, -348, 140,
        -724, 1536, 940, 372, 112, -372, 436, -480, 1136, 296, -32, -228, 132, -48, -220, 868,
        -1016, -60, -1044, -464, 328, 916, 244, 12, -736, -296, 360, 468, -376, -108, -92, 788, 368,
        -56, 544, 400, -672, -420, 728, 16, 320, 44, -284, -380, -796, 488, 132, 204, -596, -372,
        88, -152, -908, -636, -572, -624, -116, -692, -200, -56, 276, -88, 484, -324, 948, 864,
        1000, -456, -184, -276, 292, -296, 156, 676, 320, 160, 908, -84, -1236, -288, -116, 260,
        -372, -644, 732, -756, -96, 84, 344, -520, 348, -688, 240, -84, 216, -1044, -136, -676,
        -396, -1500, 960, -40, 176, 168, 1516, 420, -504, -344, -364, -360, 1216, -940, -380, -212,
        252, -660, -708, 484, -444, -152, 928, -120, 1112, 476, -260, 560, -148, -344, 108, -196,
        228, -288, 504, 560, -328, -88, 288, -1008, 460, -228, 468, -836, -196, 76, 388, 232, 412,
        -1168, -716, -644, 756, -172, -356, -504, 116, 432, 528, 48, 476, -168, -608, 448, 160,
        -532, -272, 28, -676, -12, 828, 980, 456, 520, 104, -104, 256, -344, -4, -28, -368, -52,
        -524, -572, -556, -200, 768, 1124, -208, -512, 176, 232, 248, -148, -888, 604, -600, -304,
        804, -156, -212, 488, -192, -804, -256, 368, -360, -916, -328, 228, -240, -448, -472, 856,
        -556, -364, 572, -12, -156, -368, -340, 432, 252, -752, -152, 288, 268, -580, -848, -592,
        108, -76, 244, 312, -716, 592, -80, 436, 360, 4, -248, 160, 516, 584, 732, 44, -468, -280,
        -292, -156, -588, 28, 308, 912, 24, 124, 156, 180, -252, 944, -924, -772, -520, -428, -624,
        300, -212, -1144, 32, -724, 800, -1128, -212, -1288, -848, 180, -416, 440, 192, -576, -792,
        -76, -1080, 80, -532, -352, -132, 380, -820, 148, 1112, 128, 164, 456, 700, -924, 144, -668,
        -384, 648, -832, 508, 552, -52, -100, -656, 208, -568, 748, -88, 680, 232, 300, 192, -408,
        -1012, -152, -252, -268, 272, -876, -664, -648, -332, -136, 16, 12, 1152, -28, 332, -536,
        320, -672, -460, -316, 532, -260, 228, -40, 1052, -816, 180, 88, -496, -556, -672, -368,
        428, 92, 356, 404, -408, 252, 196, -176, -556, 792, 268, 32, 372, 40, 96, -332, 328, 120,
        372, -900, -40, 472, -264, -592, 952, 128, 656, 112, 664, -232, 420, 4, -344, -464, 556,
        244, -416, -32, 252, 0, -412, 188, -696, 508, -476, 324, -1096, 656, -312, 560, 264, -136,
        304, 160, -64, -580, 248, 336, -720, 560, -348, -288, -276, -196, -500, 852, -544, -236,
        -1128, -992, -776, 116, 56, 52, 860, 884, 212, -12, 168, 1020, 512, -552, 924, -148, 716,
        188, 164, -340, -520, -184, 880, -152, -680, -208, -1156, -300, -528, -472, 364, 100, -744,
        -1056, -32, 540, 280, 144, -676, -32, -232, -280, -224, 96, 568, -76, 172, 148, 148, 104,
        32, -296, -32, 788, -80, 32, -16, 280, 288, 944, 428, -484,
    ],
    dtype=np.int32,
)
# fmt: on

# Template sizes (spec 7.18.3.3): luma 73 rows x 82 columns; chroma halves them (to 38 x 44)
# along a subsampled direction.
_LUMA_H, _LUMA_W = 73, 82
_CHROMA_H_SUB, _CHROMA_W_SUB = 38, 44
_GRAIN_MIN, _GRAIN_MAX = -128, 127  # 8-bit grain range
_INT64_MAX = 2**63 - 1

#: The end time aomenc's own tables use for "until the end of the stream" (``INT64_MAX``).
GRAIN_TABLE_END = _INT64_MAX


def _param_error(field_name: str, message: str) -> RestorekitError:
    """A :class:`RestorekitError` for an out-of-range field; ``.field`` names it (for tables)."""
    err = RestorekitError(message)
    err.field = field_name  # type: ignore[attr-defined]
    return err


def _num_pos_luma(lag: int) -> int:
    """The number of luma auto-regressive coefficients for lag ``lag``: ``2 L (L + 1)``."""
    return 2 * lag * (lag + 1)


@dataclass(frozen=True)
class AV1GrainParams:
    """Every field of an AV1 film grain parameter set (spec 5.9.30), with the spec's ranges.

    Values are stored the way aomenc's grain tables store them: the auto-regressive coefficients
    signed (the bitstream adds 128), ``cb_mult`` and the other mixing values as the raw 8-bit and
    9-bit codes (the synthesis subtracts 128 or 256). Lists are turned into tuples, so two equal
    parameter sets compare equal and hash alike. Construction validates (see :meth:`validate`).

    Args:
        apply_grain: whether the grain is applied at all.
        random_seed: the 16-bit seed of the synthesis, 0..65535.
        update_parameters: a table entry's ``update_parameters`` (False: keep the previous
            entry's parameters; irrelevant to the synthesis).
        scaling_points_y: up to 14 ``(x, y)`` points of the luma scaling function, ``x``
            strictly increasing in 0..255, ``y`` in 0..255. No points: no luma grain.
        scaling_points_cb: up to 10 points of the Cb scaling function (empty when
            ``chroma_scaling_from_luma``).
        scaling_points_cr: up to 10 points of the Cr scaling function (likewise).
        scaling_shift: 8..11, the right shift applied to ``scaling * grain``.
        ar_coeff_lag: 0..3, the auto-regressive filter's lag ``L``.
        ar_coeffs_y: ``2L(L+1)`` luma coefficients in -128..127, in the spec's order (rows
            ``-L..0``, columns ``-L..L``, stopping before the current pixel). ``None``: zeros.
        ar_coeffs_cb: the Cb coefficients: the same ``2L(L+1)`` positions, plus one last
            coefficient on the co-located luma grain when there are luma scaling points
            (``2L(L+1) + 1``; the bitstream carries that last one only then). ``None``: zeros.
        ar_coeffs_cr: the Cr coefficients, as ``ar_coeffs_cb``.
        ar_coeff_shift: 6..9, the right shift of the filter's sum.
        grain_scale_shift: 0..3, the extra right shift of the Gaussian samples.
        cb_mult: 0..255, weight (minus 128) of the Cb value in the Cb scaling index.
        cb_luma_mult: 0..255, weight (minus 128) of the average luma in the Cb scaling index.
        cb_offset: 0..511, offset (minus 256) of the Cb scaling index.
        cr_mult: as ``cb_mult`` for Cr.
        cr_luma_mult: as ``cb_luma_mult`` for Cr.
        cr_offset: as ``cb_offset`` for Cr.
        overlap_flag: blend the grain of neighbouring 32 x 32 blocks over 2 pixels.
        chroma_scaling_from_luma: scale the chroma grain with the luma scaling function of
            the co-located luma (then ``scaling_points_cb`` and ``_cr`` must be empty).
        clip_to_restricted_range: clip the result to 16..235 (luma) and 16..240 (chroma)
            instead of 0..255. aomenc's tables cannot carry it (libaom writes it as 0).

    The defaults make an empty parameter set (no scaling points, hence no grain), with the
    chroma mixing values libaom's noise model uses (``cb_mult=128``, ``cb_luma_mult=192``,
    ``cb_offset=256``: the chroma scaling index is the average co-located luma).

    Example:
        >>> p = AV1GrainParams(random_seed=7391, scaling_points_y=[(0, 20), (255, 40)])
        >>> p.ar_coeffs_cb  # lag 0 and luma points: the one coefficient on the luma grain
        (0,)
        >>> AV1GrainParams(ar_coeff_shift=5)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        restorekit.errors.RestorekitError: ar_coeff_shift must be in 6..9, got 5
    """

    apply_grain: bool = True
    random_seed: int = 0
    update_parameters: bool = True
    scaling_points_y: tuple[tuple[int, int], ...] = ()
    scaling_points_cb: tuple[tuple[int, int], ...] = ()
    scaling_points_cr: tuple[tuple[int, int], ...] = ()
    scaling_shift: int = 8
    ar_coeff_lag: int = 0
    ar_coeffs_y: tuple[int, ...] | None = None
    ar_coeffs_cb: tuple[int, ...] | None = None
    ar_coeffs_cr: tuple[int, ...] | None = None
    ar_coeff_shift: int = 6
    grain_scale_shift: int = 0
    cb_mult: int = 128
    cb_luma_mult: int = 192
    cb_offset: int = 256
    cr_mult: int = 128
    cr_luma_mult: int = 192
    cr_offset: int = 256
    overlap_flag: bool = False
    chroma_scaling_from_luma: bool = False
    clip_to_restricted_range: bool = False

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        for name in _FLAG_FIELDS:
            put(name, _as_flag(getattr(self, name), name))
        for name in _INT_FIELDS:
            put(name, _as_int(getattr(self, name), name))
        for name in ("scaling_points_y", "scaling_points_cb", "scaling_points_cr"):
            put(name, _as_points(getattr(self, name), name))
        lag = self.ar_coeff_lag
        if not 0 <= lag <= 3:
            raise _param_error("ar_coeff_lag", f"ar_coeff_lag must be in 0..3, got {lag}")
        n_chroma = _num_pos_luma(lag) + (1 if self.scaling_points_y else 0)
        for name, n in (
            ("ar_coeffs_y", _num_pos_luma(lag)),
            ("ar_coeffs_cb", n_chroma),
            ("ar_coeffs_cr", n_chroma),
        ):
            value = getattr(self, name)
            put(name, (0,) * n if value is None else _as_ints(value, name))
        self.validate()

    def validate(self) -> None:
        """Check every field against the spec's range.

        Raises:
            RestorekitError: one line naming the field, the allowed range and the value.
        """
        if not 0 <= self.random_seed <= 0xFFFF:
            raise _param_error(
                "random_seed", f"random_seed must be in 0..65535, got {self.random_seed}"
            )
        for name, most in (
            ("scaling_points_y", 14),
            ("scaling_points_cb", 10),
            ("scaling_points_cr", 10),
        ):
            pts = getattr(self, name)
            if len(pts) > most:
                raise _param_error(name, f"{name} must have at most {most} points, got {len(pts)}")
            for x, y in pts:
                if not (0 <= x <= 255 and 0 <= y <= 255):
                    raise _param_error(
                        name, f"{name} must have x and y in 0..255, got point ({x}, {y})"
                    )
            xs = [x for x, _ in pts]
            if any(b <= a for a, b in itertools.pairwise(xs)):
                raise _param_error(name, f"{name} must have strictly increasing x, got {xs}")
        if self.chroma_scaling_from_luma and (self.scaling_points_cb or self.scaling_points_cr):
            raise _param_error(
                "scaling_points_cb",
                "scaling_points_cb and scaling_points_cr must be empty with "
                f"chroma_scaling_from_luma, got {len(self.scaling_points_cb)} and "
                f"{len(self.scaling_points_cr)} points",
            )
        for name, lo, hi in _RANGES:
            v = getattr(self, name)
            if not lo <= v <= hi:
                raise _param_error(name, f"{name} must be in {lo}..{hi}, got {v}")
        n_luma = _num_pos_luma(self.ar_coeff_lag)
        n_chroma = n_luma + (1 if self.scaling_points_y else 0)
        why = " (lag {}{})".format(
            self.ar_coeff_lag, ", with luma points" if self.scaling_points_y else ", no luma points"
        )
        for name, n in (
            ("ar_coeffs_y", n_luma),
            ("ar_coeffs_cb", n_chroma),
            ("ar_coeffs_cr", n_chroma),
        ):
            coeffs = getattr(self, name)
            if coeffs is None or len(coeffs) != n:
                got = "None" if coeffs is None else str(len(coeffs))
                raise _param_error(
                    name,
                    f"{name} must have {n} coefficients{why if name != 'ar_coeffs_y' else ''}"
                    f", got {got}",
                )
            bad = [c for c in coeffs if not -128 <= c <= 127]
            if bad:
                raise _param_error(name, f"{name} must be in -128..127, got {bad[0]}")

    @property
    def has_grain(self) -> bool:
        """Whether the synthesis changes any plane (``apply_grain`` and some scaling points)."""
        return self.apply_grain and bool(
            self.scaling_points_y
            or self.scaling_points_cb
            or self.scaling_points_cr
            or self.chroma_scaling_from_luma
        )


_FLAG_FIELDS = (
    "apply_grain",
    "update_parameters",
    "overlap_flag",
    "chroma_scaling_from_luma",
    "clip_to_restricted_range",
)

_INT_FIELDS = (
    "random_seed",
    "scaling_shift",
    "ar_coeff_lag",
    "ar_coeff_shift",
    "grain_scale_shift",
    "cb_mult",
    "cb_luma_mult",
    "cb_offset",
    "cr_mult",
    "cr_luma_mult",
    "cr_offset",
)

_RANGES = (
    ("scaling_shift", 8, 11),
    ("ar_coeff_shift", 6, 9),
    ("grain_scale_shift", 0, 3),
    ("cb_mult", 0, 255),
    ("cb_luma_mult", 0, 255),
    ("cb_offset", 0, 511),
    ("cr_mult", 0, 255),
    ("cr_luma_mult", 0, 255),
    ("cr_offset", 0, 511),
)


def _as_int(value: object, name: str) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise _param_error(name, f"{name} must be an integer, got {value!r}")
    return int(value)


def _as_flag(value: object, name: str) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer) and int(value) in (0, 1):
        return bool(value)
    raise _param_error(name, f"{name} must be a bool (or 0 / 1), got {value!r}")


def _as_ints(values: object, name: str) -> tuple[int, ...]:
    if not isinstance(values, Sequence | np.ndarray) or isinstance(values, str):
        raise _param_error(name, f"{name} must be a sequence of integers, got {values!r}")
    return tuple(_as_int(v, name) for v in values)


def _as_points(values: object, name: str) -> tuple[tuple[int, int], ...]:
    if not isinstance(values, Sequence | np.ndarray) or isinstance(values, str):
        raise _param_error(name, f"{name} must be a sequence of (x, y) pairs, got {values!r}")
    out = []
    for p in values:
        if not isinstance(p, Sequence | np.ndarray) or len(p) != 2:
            raise _param_error(name, f"{name} must be a sequence of (x, y) pairs, got {p!r}")
        out.append((_as_int(p[0], name), _as_int(p[1], name)))
    return tuple(out)


# ----------------------------------------------------------------------------------------------
# Grain tables (the text format of libaom's aom_dsp/grain_table.c)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrainTableEntry:
    """One entry of a grain table: the parameters for the frames shown in ``[start, end)``.

    Times are in aomenc's ticks of 1/10,000,000 s (at 25 frames/s the second frame is at
    400,000): a frame is looked up by its presentation time ``t`` with ``start <= t < end``;
    :data:`GRAIN_TABLE_END` stands for "to the end of the stream". aomenc codes the first
    frame with ``random_seed + 3381`` (see the module notes).

    Args:
        start: first time covered, ``0 <= start``.
        end: first time no longer covered, ``start < end <= 2**63 - 1``.
        params: the grain parameters. With ``params.update_parameters`` False the table holds
            only the entry line (seed and ``apply_grain``; the rest is the previous entry's).
    """

    start: int = 0
    end: int = GRAIN_TABLE_END
    params: AV1GrainParams = field(default_factory=AV1GrainParams)

    def __post_init__(self) -> None:
        start, end = _as_int(self.start, "start"), _as_int(self.end, "end")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        if not 0 <= start < end <= _INT64_MAX:
            raise _param_error(
                "start",
                f"grain table times must satisfy 0 <= start < end <= 2**63 - 1, got "
                f"start {start}, end {end}",
            )
        if not isinstance(self.params, AV1GrainParams):
            raise RestorekitError(
                f"params must be an AV1GrainParams, got {type(self.params).__name__}"
            )


#: A grain table: its entries in file order.
GrainTable = list[GrainTableEntry]

_MAGIC = "filmgrn1"
# The tag of each line of an entry with update_parameters, in file order.
_ENTRY_TAGS = ("p", "sY", "sCb", "sCr", "cY", "cCb", "cCr")
# The fields of the "p" line, in order.
_P_FIELDS = (
    "ar_coeff_lag",
    "ar_coeff_shift",
    "grain_scale_shift",
    "scaling_shift",
    "chroma_scaling_from_luma",
    "overlap_flag",
    "cb_mult",
    "cb_luma_mult",
    "cb_offset",
    "cr_mult",
    "cr_luma_mult",
    "cr_offset",
)


def _table_error(line: int, message: str) -> RestorekitError:
    return RestorekitError(f"grain table line {line}: {message}")


def _parse_ints(tokens: list[str], line: int, what: str) -> list[int]:
    out = []
    for t in tokens:
        try:
            out.append(int(t, 10))
        except ValueError:
            raise _table_error(line, f"{what} must be integers, got {t!r}") from None
    return out


def parse_grain_table(text: str) -> GrainTable:
    """Parse the text of a film grain table (aomenc's ``--film-grain-table`` format).

    The format (libaom ``aom_dsp/grain_table.c``): a first line ``filmgrn1``, then per entry a
    line ``E start end apply_grain random_seed update_parameters`` and, when
    ``update_parameters`` is 1, the lines ``p`` (12 integers: ``ar_coeff_lag``,
    ``ar_coeff_shift``, ``grain_scale_shift``, ``scaling_shift``, ``chroma_scaling_from_luma``,
    ``overlap_flag``, ``cb_mult``, ``cb_luma_mult``, ``cb_offset``, ``cr_mult``,
    ``cr_luma_mult``, ``cr_offset``), ``sY n x1 y1 ...``, ``sCb n ...``, ``sCr n ...``, ``cY``
    with ``2L(L+1)`` coefficients and ``cCb``, ``cCr`` with ``2L(L+1) + 1``. Tokens are separated
    by any white space (aomenc indents with a tab); blank lines are skipped.

    A table always holds the chroma coefficient on the luma grain; without luma scaling points
    the bitstream cannot carry it, so it is dropped here (see :class:`AV1GrainParams`).

    Args:
        text: the table's text.

    Returns:
        The entries in file order.

    Raises:
        RestorekitError: one line naming the table line (1-based) and what is wrong there:
            a missing ``filmgrn1``, a line missing or out of order, a wrong number of values,
            a value that is not an integer or is out of range.

    Example:
        >>> table = parse_grain_table('''filmgrn1
        ... E 0 9223372036854775807 1 7391 1
        ...   p 0 6 0 8 0 1 128 192 256 128 192 256
        ...   sY 2  0 20 255 40
        ...   sCb 0
        ...   sCr 0
        ...   cY
        ...   cCb 0
        ...   cCr 0
        ... ''')
        >>> table[0].params.scaling_points_y, table[0].params.random_seed
        (((0, 20), (255, 40)), 7391)
        >>> parse_grain_table("filmgrn1\\nE 0 10 1 7391 1\\n p 0 6 0\\n")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        restorekit.errors.RestorekitError: grain table line 3: 'p' must have 12 values (...), got 3
    """
    if not isinstance(text, str):
        raise RestorekitError(f"grain table text must be a str, got {type(text).__name__}")
    lines = [(i + 1, ln.split()) for i, ln in enumerate(text.splitlines())]
    lines = [(i, toks) for i, toks in lines if toks]
    if not lines or lines[0][1] != [_MAGIC]:
        first = " ".join(lines[0][1]) if lines else ""
        line = lines[0][0] if lines else 1
        raise _table_error(line, f"expected the magic line {_MAGIC!r}, got {first[:40]!r}")
    table: GrainTable = []
    k = 1
    while k < len(lines):
        line, toks = lines[k]
        if toks[0] != "E":
            raise _table_error(
                line,
                f"expected an entry line 'E start end apply_grain "
                f"random_seed update_parameters', got {toks[0]!r}",
            )
        if len(toks) != 6:
            raise _table_error(
                line,
                f"'E' must have 5 values (start end apply_grain "
                f"random_seed update_parameters), got {len(toks) - 1}",
            )
        start, end, apply, seed, update = _parse_ints(toks[1:], line, "'E' values")
        k += 1
        fields: dict[str, object] = {
            "apply_grain": apply,
            "random_seed": seed,
            "update_parameters": update,
        }
        where = {name: line for name in ("apply_grain", "random_seed", "update_parameters")}
        where["start"] = line
        if update == 1:
            for tag in _ENTRY_TAGS:
                if k >= len(lines):
                    last = lines[-1][0]
                    raise _table_error(last + 1, f"expected {tag!r}, the table ends (truncated)")
                tline, ttoks = lines[k]
                if ttoks[0] != tag:
                    raise _table_error(tline, f"expected {tag!r}, got {ttoks[0]!r}")
                _entry_line(tag, tline, ttoks[1:], fields, where)
                k += 1
        elif update != 0:
            raise _table_error(line, f"update_parameters must be 0 or 1, got {update}")
        try:
            params = AV1GrainParams(**fields)  # type: ignore[arg-type]
            table.append(GrainTableEntry(start, end, params))
        except RestorekitError as e:
            raise _table_error(where.get(getattr(e, "field", ""), line), str(e)) from None
    return table


def _entry_line(
    tag: str, line: int, toks: list[str], fields: dict[str, object], where: dict[str, int]
) -> None:
    """Read one of the lines ``p`` .. ``cCr`` of an entry into :class:`AV1GrainParams` fields."""
    if tag == "p":
        if len(toks) != 12:
            raise _table_error(
                line, f"'p' must have 12 values ({' '.join(_P_FIELDS)}), got {len(toks)}"
            )
        for name, v in zip(_P_FIELDS, _parse_ints(toks, line, "'p' values"), strict=True):
            fields[name] = v
            where[name] = line
        lag = fields["ar_coeff_lag"]
        if not (isinstance(lag, int) and 0 <= lag <= 3):
            raise _table_error(line, f"ar_coeff_lag must be in 0..3, got {lag}")
    elif tag in _POINT_TAGS:
        name, most = _POINT_TAGS[tag]
        vals = _parse_ints(toks, line, f"{tag!r} values")
        if not vals:
            raise _table_error(line, f"{tag!r} must start with the number of points, got none")
        n = vals[0]
        if not 0 <= n <= most:
            raise _table_error(line, f"{tag!r} must have 0..{most} points, got {n}")
        if len(vals) != 1 + 2 * n:
            raise _table_error(
                line,
                f"{tag!r} with {n} points must have {2 * n} values after the count, "
                f"got {len(vals) - 1}",
            )
        fields[name] = [(vals[1 + 2 * i], vals[2 + 2 * i]) for i in range(n)]
        where[name] = line
    else:
        lag = int(fields["ar_coeff_lag"])  # type: ignore[call-overload]
        n = _num_pos_luma(lag) + (tag != "cY")
        if len(toks) != n:
            raise _table_error(
                line, f"{tag!r} must have {n} coefficients for ar_coeff_lag {lag}, got {len(toks)}"
            )
        coeffs = _parse_ints(toks, line, f"{tag!r} coefficients")
        if tag != "cY" and not fields["scaling_points_y"]:
            coeffs = coeffs[:-1]  # the luma coefficient: not in the bitstream without luma
        name = {"cY": "ar_coeffs_y", "cCb": "ar_coeffs_cb", "cCr": "ar_coeffs_cr"}[tag]
        fields[name] = coeffs
        where[name] = line


_POINT_TAGS = {
    "sY": ("scaling_points_y", 14),
    "sCb": ("scaling_points_cb", 10),
    "sCr": ("scaling_points_cr", 10),
}


def format_grain_table(table: Sequence[GrainTableEntry]) -> str:
    """Write a grain table as text, byte for byte as libaom writes it.

    Entries whose parameters have ``update_parameters`` False get only their ``E`` line. The
    chroma coefficient lines always hold ``2L(L+1) + 1`` values (the last is 0 when there are no
    luma points). ``clip_to_restricted_range`` has no place in the format and is not written.

    Args:
        table: the entries.

    Returns:
        The text, ending with a newline.

    Example:
        >>> p = AV1GrainParams(random_seed=1, scaling_points_y=[(0, 20), (255, 40)])
        >>> print(format_grain_table([GrainTableEntry(0, 10, p)]))  # doctest: +NORMALIZE_WHITESPACE
        filmgrn1
        E 0 10 1 1 1
            p 0 6 0 8 0 0 128 192 256 128 192 256
            sY 2  0 20 255 40
            sCb 0
            sCr 0
            cY
            cCb 0
            cCr 0
        <BLANKLINE>
    """
    out = [_MAGIC + "\n"]
    for entry in table:
        if not isinstance(entry, GrainTableEntry):
            raise RestorekitError(
                f"a grain table holds GrainTableEntry items, got {type(entry).__name__}"
            )
        p = entry.params
        out.append(
            f"E {entry.start} {entry.end} {int(p.apply_grain)} {p.random_seed} "
            f"{int(p.update_parameters)}\n"
        )
        if not p.update_parameters:
            continue
        vals = [int(getattr(p, name)) for name in _P_FIELDS]
        out.append("\tp " + " ".join(str(v) for v in vals) + "\n")
        out.append(f"\tsY {len(p.scaling_points_y)} ")
        out.append("".join(f" {x} {y}" for x, y in p.scaling_points_y))
        for tag, pts in (("sCb", p.scaling_points_cb), ("sCr", p.scaling_points_cr)):
            out.append(f"\n\t{tag} {len(pts)}" + "".join(f" {x} {y}" for x, y in pts))
        pad = () if p.scaling_points_y else (0,)
        for tag, coeffs in (
            ("cY", p.ar_coeffs_y),
            ("cCb", tuple(p.ar_coeffs_cb or ()) + pad),
            ("cCr", tuple(p.ar_coeffs_cr or ()) + pad),
        ):
            out.append(f"\n\t{tag}" + "".join(f" {c}" for c in coeffs or ()))
        out.append("\n")
    return "".join(out)


def read_grain_table(path: str | os.PathLike) -> GrainTable:
    """Read a film grain table file (see :func:`parse_grain_table` for the format).

    Raises:
        RestorekitError: the file is missing or unreadable, or one line naming the file and
            the table line that is malformed.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="ascii")
    except FileNotFoundError:
        raise RestorekitError(f"grain table not found: {p}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise RestorekitError(f"cannot read grain table {p}: {e}") from None
    try:
        return parse_grain_table(text)
    except RestorekitError as e:
        raise RestorekitError(f"{p}: {e}") from None


def write_grain_table(path: str | os.PathLike, table: Sequence[GrainTableEntry]) -> None:
    """Write a film grain table file that ``aomenc --film-grain-table`` reads (atomically).

    The text is :func:`format_grain_table`'s. For ``aomenc --monochrome`` leave the chroma
    scaling points empty: libaom aborts on them.
    """
    atomic_write(path, format_grain_table(table))


# ----------------------------------------------------------------------------------------------
# Synthesis (spec 7.18.3)
# ----------------------------------------------------------------------------------------------


def _random_numbers(seed: int, count: int, bits: int) -> np.ndarray:
    """``count`` draws of ``get_random_number(bits)`` from a register seeded with ``seed``.

    The spec's 16-bit linear-feedback shift register (7.18.3.2): the new bit is the XOR of bits
    0, 1, 3 and 12; the draw is the register's top ``bits`` bits after the shift.
    """
    r = seed & 0xFFFF
    out = [0] * count
    shift, mask = 16 - bits, (1 << bits) - 1
    for k in range(count):
        r = (r >> 1) | (((r ^ (r >> 1) ^ (r >> 3) ^ (r >> 12)) & 1) << 15)
        out[k] = (r >> shift) & mask
    return np.array(out, dtype=np.int64)


def _round2(x: np.ndarray | int, n: int) -> np.ndarray | int:
    """The spec's ``Round2``: ``(x + 2^(n-1)) >> n`` with an arithmetic (flooring) shift."""
    return x if n == 0 else (x + (1 << (n - 1))) >> n


def _white_template(seed: int, h: int, w: int, grain_scale_shift: int) -> np.ndarray:
    """An ``h x w`` array of Gaussian samples scaled to 8 bits (spec 7.18.3.3, first loops)."""
    idx = _random_numbers(seed, h * w, 11)
    return _round2(_GAUSSIAN_SEQUENCE[idx], 4 + grain_scale_shift).reshape(h, w).astype(np.int64)


def _auto_regress(
    buf: np.ndarray, coeffs: Sequence[int], lag: int, shift: int, extra: np.ndarray | None
) -> None:
    """Apply the causal auto-regressive filter of spec 7.18.3.3 to ``buf`` in place.

    For each row from 3 on and each column in ``3 .. W - 4``, in raster order:
    ``buf[y, x] = clip(buf[y, x] + Round2(sum, shift))`` where ``sum`` runs over the ``2L(L+1)``
    causal neighbours (rows ``-L .. -1`` at columns ``-L .. L``, then row 0 at columns
    ``-L .. -1``) and ``extra`` (the chroma filter's luma term, already multiplied by its
    coefficient). The neighbours in the rows above are final when a row starts, so their part
    of the sum is one vector operation per row; only the ``L`` left neighbours in the row itself
    are a scalar recursion.
    """
    H, W = buf.shape
    x0, x1 = 3, W - 3
    # the first lag * (2 lag + 1) coefficients: rows -lag .. -1, columns -lag .. lag
    above = [(dy, dx) for dy in range(-lag, 0) for dx in range(-lag, lag + 1)]
    left = [int(c) for c in coeffs[len(above) : len(above) + lag]]  # row 0, dx = -lag .. -1
    for y in range(3, H):
        part = np.zeros(x1 - x0, dtype=np.int64)
        for (dy, dx), c in zip(above, coeffs[: len(above)], strict=True):
            if c:
                part += c * buf[y + dy, x0 + dx : x1 + dx]
        if extra is not None:
            part += extra[y, x0:x1]
        if not any(left):
            buf[y, x0:x1] = np.clip(buf[y, x0:x1] + _round2(part, shift), _GRAIN_MIN, _GRAIN_MAX)
            continue
        row = buf[y].tolist()
        part_l = part.tolist()
        half = 1 << (shift - 1)
        for x in range(x0, x1):
            s = part_l[x - x0]
            for k in range(lag):
                s += left[k] * row[x - lag + k]
            v = row[x] + ((s + half) >> shift)
            row[x] = _GRAIN_MIN if v < _GRAIN_MIN else (_GRAIN_MAX if v > _GRAIN_MAX else v)
        buf[y] = row


def _grain_templates(
    p: AV1GrainParams, subx: int, suby: int, mono: bool
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The luma, Cb and Cr grain templates of spec 7.18.3.3, int64.

    Chroma is ``None`` for a monochrome picture; a template that no plane uses stays zero.
    """
    shift = p.ar_coeff_shift
    lag = p.ar_coeff_lag
    has_y = bool(p.scaling_points_y)
    luma = np.zeros((_LUMA_H, _LUMA_W), dtype=np.int64)
    if has_y:
        luma = _white_template(p.random_seed, _LUMA_H, _LUMA_W, p.grain_scale_shift)
        _auto_regress(luma, p.ar_coeffs_y or (), lag, shift, None)
    if mono:
        return luma, None, None
    ch = _CHROMA_H_SUB if suby else _LUMA_H
    cw = _CHROMA_W_SUB if subx else _LUMA_W
    luma_avg = None
    if has_y:
        # The co-located luma grain of chroma position (y, x) >= 3: the average (Round2) of the
        # (1 + suby) x (1 + subx) luma values at ((y - 3) << suby) + 3, ((x - 3) << subx) + 3.
        ny, nx = ch - 3, cw - 6  # rows 3 .. ch - 1, columns 3 .. cw - 4 (those filtered)
        acc = np.zeros((ny, nx), dtype=np.int64)
        for i in range(1 + suby):
            for j in range(1 + subx):
                acc += luma[
                    3 + i : 3 + i + (ny << suby) : 1 << suby,
                    3 + j : 3 + j + (nx << subx) : 1 << subx,
                ]
        luma_avg = np.zeros((ch, cw), dtype=np.int64)
        luma_avg[3:, 3 : cw - 3] = _round2(acc, subx + suby)
    out = []
    for seed_xor, pts, coeffs in (
        (0xB524, p.scaling_points_cb, p.ar_coeffs_cb or ()),
        (0x49D8, p.scaling_points_cr, p.ar_coeffs_cr or ()),
    ):
        if not (pts or p.chroma_scaling_from_luma):
            out.append(np.zeros((ch, cw), dtype=np.int64))
            continue
        t = _white_template(p.random_seed ^ seed_xor, ch, cw, p.grain_scale_shift)
        n = _num_pos_luma(lag)
        extra = None
        if luma_avg is not None and coeffs[n]:
            extra = coeffs[n] * luma_avg
        _auto_regress(t, coeffs[:n], lag, shift, extra)
        out.append(t)
    return luma, out[0], out[1]


def _block_offsets(seed: int, n_rows: int, n_cols: int) -> np.ndarray:
    """The 8-bit random offset of every 32 x 32 luma block, ``(n_rows, n_cols)``.

    Spec 7.18.3.5: one register per block row, seeded from ``random_seed`` and the row number;
    the high 4 bits give the column offset, the low 4 bits the row offset.
    """
    out = np.empty((n_rows, n_cols), dtype=np.int64)
    for s in range(n_rows):
        r = seed ^ ((((s * 37) + 178) & 255) << 8) ^ (((s * 173) + 105) & 255)
        out[s] = _random_numbers(r, n_cols, 8)
    return out


def _noise_plane(
    template: np.ndarray,
    offsets: np.ndarray,
    subx: int,
    suby: int,
    overlap: bool,
    height: int,
    width: int,
) -> np.ndarray:
    """The noise image of one plane (spec 7.18.3.5, noise stripes and noise image), int16.

    Block ``(s, b)`` reads a ``(bh + oy) x (bw + ox)`` crop of the template (``bw = 32 >> subx``;
    ``ox = 2 >> subx`` columns of overlap) at the block's random offset. With overlap, a block's
    first ``ox`` columns blend with the previous block's extra columns (weights 27/17 and
    17/27 over 32, or 23/22 subsampled), then a stripe's first ``oy`` rows blend likewise with
    the previous stripe's extra rows.
    """
    bh, bw = 32 >> suby, 32 >> subx
    oy, ox = 2 >> suby, 2 >> subx
    n_rows, n_cols = offsets.shape
    off_x = offsets >> 4
    off_y = offsets & 15
    off_x = 6 + off_x if subx else 9 + 2 * off_x
    off_y = 6 + off_y if suby else 9 + 2 * off_y
    tw = template.shape[1]
    flat = template.astype(np.int16).ravel()
    rows_i = np.arange(bh + oy)[None, :, None]
    cols_j = np.arange(bw + ox)[None, None, :]
    w_x = _OVERLAP_WEIGHTS[subx]
    w_y = _OVERLAP_WEIGHTS[suby]
    stripes = []
    prev_tail = None
    for s in range(n_rows):
        idx = (off_y[s][:, None, None] + rows_i) * tw + (off_x[s][:, None, None] + cols_j)
        blk = flat[idx].astype(np.int32)  # (n_cols, bh + oy, bw + ox)
        if overlap and n_cols > 1:
            for j, (w_old, w_new) in enumerate(w_x):
                old = blk[:-1, :, bw + j]
                blk[1:, :, j] = np.clip(
                    _round2(old * w_old + blk[1:, :, j] * w_new, 5), _GRAIN_MIN, _GRAIN_MAX
                )
        # (n_cols, rows, bw) -> (rows, n_cols * bw): the stripe, block after block
        stripe = blk[:, :, :bw].transpose(1, 0, 2).reshape(bh + oy, n_cols * bw)
        if overlap and prev_tail is not None:
            for i, (w_old, w_new) in enumerate(w_y):
                stripe[i] = np.clip(
                    _round2(prev_tail[i] * w_old + stripe[i] * w_new, 5), _GRAIN_MIN, _GRAIN_MAX
                )
        prev_tail = stripe[bh:]
        stripes.append(stripe[:bh].astype(np.int16))
    noise = np.concatenate(stripes, axis=0)
    return noise[:height, :width]


# Overlap weights (old, new) for each of the overlapped rows or columns, by subsampling.
_OVERLAP_WEIGHTS = {0: ((27, 17), (17, 27)), 1: ((23, 22),)}


def _scaling_lut(points: Sequence[tuple[int, int]]) -> np.ndarray:
    """The 256-entry scaling function of spec 7.18.3.4 (piecewise linear, 16-bit fixed point)."""
    lut = np.zeros(256, dtype=np.int32)
    if not points:
        return lut
    lut[: points[0][0]] = points[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        dx, dy = x1 - x0, y1 - y0
        delta = dy * ((65536 + (dx >> 1)) // dx)
        xs = np.arange(dx, dtype=np.int64)
        lut[x0:x1] = y0 + ((xs * delta + 32768) >> 16)
    lut[points[-1][0] :] = points[-1][1]
    return lut


def _add_noise(
    plane: np.ndarray,
    index: np.ndarray,
    lut: np.ndarray,
    noise: np.ndarray,
    shift: int,
    lo: int,
    hi: int,
) -> np.ndarray:
    """``clip(plane + Round2(lut[index] * noise, shift), lo, hi)`` as uint8."""
    n = np.take(lut, index) * noise.astype(np.int32)
    n += 1 << (shift - 1)
    n >>= shift
    n += plane
    np.clip(n, lo, hi, out=n)
    return n.astype(np.uint8)


def _check_plane(a: object, name: str, shape: tuple[int, int] | None = None) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise RestorekitError(f"{name} must be a numpy array, got {type(a).__name__}")
    if a.dtype != np.uint8:
        raise RestorekitError(f"{name} must be uint8 (8-bit AV1 grain), got dtype {a.dtype}")
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise RestorekitError(f"{name} must be a 2-D plane (H, W), got shape {a.shape}")
    if shape is not None and a.shape != shape:
        raise RestorekitError(
            f"{name} must have shape {shape} for the luma plane and subsampling, got {a.shape}"
        )
    return a


def apply_av1_grain(
    y: np.ndarray,
    cb: np.ndarray | None,
    cr: np.ndarray | None,
    params: AV1GrainParams,
    subsampling: tuple[int, int] = (1, 1),
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Add AV1 film grain to an 8-bit picture, bit exact with the spec (7.18.3) and dav1d.

    The picture is YCbCr (any matrix but the identity: the restricted range clips chroma at 240)
    or monochrome (``cb`` and ``cr`` both ``None``; chroma fields of ``params`` are then ignored,
    as a monochrome AV1 stream cannot carry them).

    Args:
        y: luma plane, uint8 ``(H, W)``.
        cb: Cb plane, uint8 ``((H + sy) >> sy, (W + sx) >> sx)``, or ``None``.
        cr: Cr plane, likewise, or ``None``.
        params: the grain parameters.
        subsampling: ``(sx, sy)``, the chroma subsampling: ``(1, 1)`` 4:2:0, ``(1, 0)`` 4:2:2,
            ``(0, 0)`` 4:4:4.

    Returns:
        ``(y, cb, cr)``: new uint8 planes (``None`` where the input was); a plane without grain
        is returned as a copy.

    Raises:
        RestorekitError: planes of the wrong type or shape, or parameters that a stream of this
            subsampling cannot carry (4:2:0 with Cb points but no Cr points or the reverse, or
            with chroma points but no luma points).

    Example:
        >>> y = np.full((40, 50), 128, dtype=np.uint8)
        >>> p = AV1GrainParams(random_seed=10, scaling_points_y=[(0, 64), (255, 64)])
        >>> out, _, _ = apply_av1_grain(y, None, None, p)
        >>> out.shape, out.dtype, bool((out != 128).any())
        ((40, 50), dtype('uint8'), True)
    """
    if not isinstance(params, AV1GrainParams):
        raise RestorekitError(f"params must be an AV1GrainParams, got {type(params).__name__}")
    if tuple(subsampling) not in ((0, 0), (1, 0), (1, 1)):
        raise RestorekitError(
            f"subsampling must be (1, 1) 4:2:0, (1, 0) 4:2:2 or (0, 0) 4:4:4, got {subsampling}"
        )
    subx, suby = subsampling
    y = _check_plane(y, "y")
    h, w = y.shape
    mono = cb is None and cr is None
    if not mono:
        if cb is None or cr is None:
            raise RestorekitError("cb and cr must both be planes or both be None (monochrome)")
        cshape = ((h + suby) >> suby, (w + subx) >> subx)
        cb = _check_plane(cb, "cb", cshape)
        cr = _check_plane(cr, "cr", cshape)
    params.validate()
    p = params
    if mono:
        p = dataclasses.replace(
            p, scaling_points_cb=(), scaling_points_cr=(), chroma_scaling_from_luma=False
        )
    elif subx and suby:
        if bool(p.scaling_points_cb) != bool(p.scaling_points_cr):
            raise RestorekitError(
                "4:2:0 grain must have Cb and Cr scaling points both or neither, got "
                f"{len(p.scaling_points_cb)} and {len(p.scaling_points_cr)} points"
            )
        if p.scaling_points_cb and not p.scaling_points_y:
            raise RestorekitError(
                "4:2:0 grain cannot have chroma scaling points without luma scaling points, got "
                f"{len(p.scaling_points_cb)} Cb points and no luma points"
            )
    out_y = y.copy()
    out_cb = None if cb is None else cb.copy()
    out_cr = None if cr is None else cr.copy()
    if not p.has_grain:
        return out_y, out_cb, out_cr
    luma_t, cb_t, cr_t = _grain_templates(p, subx, suby, mono)
    n_rows, n_cols = (h + 31) >> 5, (w + 31) >> 5
    offsets = _block_offsets(p.random_seed, n_rows, n_cols)
    shift = p.scaling_shift
    if p.clip_to_restricted_range:
        lo, hi_y, hi_c = 16, 235, 240
    else:
        lo, hi_y, hi_c = 0, 255, 255
    if cb is not None and cr is not None and cb_t is not None and cr_t is not None:
        ch, cw = cb.shape
        # The average luma at each chroma position: the luma at (y << sy, x << sx), averaged
        # (Round2) with its right neighbour when subsampled horizontally (the last column
        # repeats itself).
        yy = y[:: 1 << suby].astype(np.int32)[:ch]
        if subx:
            right = np.concatenate([yy[:, 1:], yy[:, -1:]], axis=1)
            avg = (yy + right + 1)[:, ::2] >> 1
        else:
            avg = yy
        avg = avg[:, :cw]
        lut_y = _scaling_lut(p.scaling_points_y)
        for k, (plane, tmpl, pts, mult, lmult, offset) in enumerate(
            (
                (cb, cb_t, p.scaling_points_cb, p.cb_mult, p.cb_luma_mult, p.cb_offset),
                (cr, cr_t, p.scaling_points_cr, p.cr_mult, p.cr_luma_mult, p.cr_offset),
            )
        ):
            if not (pts or p.chroma_scaling_from_luma):
                continue
            if p.chroma_scaling_from_luma:
                index, lut = avg, lut_y
            else:
                combined = avg * (lmult - 128) + plane.astype(np.int32) * (mult - 128)
                index = np.clip((combined >> 6) + (offset - 256), 0, 255)
                lut = _scaling_lut(pts)
            noise = _noise_plane(tmpl, offsets, subx, suby, p.overlap_flag, ch, cw)
            result = _add_noise(plane, index, lut, noise, shift, lo, hi_c)
            if k == 0:
                out_cb = result
            else:
                out_cr = result
    if p.scaling_points_y:
        noise = _noise_plane(luma_t, offsets, 0, 0, p.overlap_flag, h, w)
        out_y = _add_noise(y, y, _scaling_lut(p.scaling_points_y), noise, shift, lo, hi_y)
    return out_y, out_cb, out_cr


# ----------------------------------------------------------------------------------------------
# The engine for the library's float images
# ----------------------------------------------------------------------------------------------

# BT.601 full range (JPEG / JFIF): Y = 0.299 R + 0.587 G + 0.114 B, Cb and Cr offset by 128.
_RGB_TO_YCBCR = np.array(
    [
        [0.299, 0.587, 0.114],
        [-0.168736, -0.331264, 0.5],
        [0.5, -0.418688, -0.081312],
    ]
)
_YCBCR_TO_RGB = np.linalg.inv(_RGB_TO_YCBCR)


def aomenc_stream_seed(table_seed: int) -> int:
    """The grain seed aomenc (libaom 3.6) writes into the first frame coded with a table entry of
    ``table_seed``: libaom steps the seed for the next frame (``+ 3381``, mod 2^16, 7391 for 0)
    before it writes the first frame's header. What a decoder shows for that frame is
    :func:`apply_av1_grain` with this seed.

    Example:
        >>> aomenc_stream_seed(1234), aomenc_stream_seed(62155)
        (4615, 7391)
    """
    s = (int(table_seed) + 3381) & 0xFFFF
    return 7391 if s == 0 else s


def rgb_to_av1_ycbcr(rgb: np.ndarray, offset: bool = True) -> np.ndarray:
    """``(3, H, W)`` RGB on 0..255 -> YCbCr on 0..255 with the matrix :func:`av1_grain` uses
    (BT.601 full range, JPEG's), not rounded; ``offset=False`` leaves chroma centred on 0 (for a
    difference, such as grain).

    Example:
        >>> rgb_to_av1_ycbcr(np.full((3, 1, 1), 255.0)).ravel().round(3).tolist()
        [255.0, 128.0, 128.0]
    """
    ycc = np.einsum("ij,jhw->ihw", _RGB_TO_YCBCR, np.asarray(rgb, dtype=np.float64))
    if offset:
        ycc[1:] += 128.0
    return ycc


def av1_grain(
    x: torch.Tensor, params: AV1GrainParams, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Add AV1 film grain to float images, as an AV1 decoder would show it.

    Gray images (``C = 1``) are the luma plane itself: rounded to 8 bits, grained
    (:func:`apply_av1_grain`, monochrome) and divided by 255 again. RGB images (``C = 3``,
    sRGB-encoded, as decoders apply grain to the coded values) are converted to 8-bit YCbCr,
    BT.601 full range (JPEG's matrix: ``Y = 0.299 R + 0.587 G + 0.114 B``, chroma centred on 128),
    without subsampling (4:4:4), grained with subsampling ``(0, 0)``, and converted back (values
    clamped to [0, 1]). Either way the result is quantised to the 8-bit grid of that conversion,
    even where there is no grain. Not differentiable.

    Args:
        x: images ``(B, C, H, W)`` in [0, 1], ``C`` 1 or 3.
        params: the grain parameters.
        generator: if given, each image gets its own 16-bit seed drawn from it (replacing
            ``params.random_seed``); otherwise every image uses ``params.random_seed``.

    Returns:
        The grained images, same shape, dtype and device as ``x``.

    Example:
        >>> p = AV1GrainParams(scaling_points_y=[(0, 40), (255, 40)], random_seed=3)
        >>> y = av1_grain(torch.full((2, 3, 24, 40), 0.5), p, torch.Generator().manual_seed(0))
        >>> y.shape, bool((y[0] != y[1]).any())
        (torch.Size([2, 3, 24, 40]), True)
    """
    check_image(x, channels=(1, 3))
    if not isinstance(params, AV1GrainParams):
        raise RestorekitError(f"params must be an AV1GrainParams, got {type(params).__name__}")
    if not bool(torch.isfinite(x).all()):
        raise RestorekitError("image must be finite, got NaN or infinite values")
    B, C, H, W = x.shape
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    to_ycc = torch.tensor(_RGB_TO_YCBCR, dtype=dtype)
    to_rgb = torch.tensor(_YCBCR_TO_RGB, dtype=dtype)
    out = []
    for b in range(B):
        p = params
        if generator is not None:
            seed = torch.randint(0, 65536, (1,), generator=generator, device=generator.device)
            p = dataclasses.replace(params, random_seed=int(seed.item()))
        xb = x[b].detach().to("cpu", dtype) * 255.0  # (C, H, W) on 0..255
        if C == 1:
            y = xb[0].round().clamp(0, 255).to(torch.uint8).numpy()
            gy, _, _ = apply_av1_grain(y, None, None, p)
            out.append(torch.from_numpy(gy).to(dtype)[None] / 255.0)
        else:
            # RGB -> YCbCr codes: the 3 x 3 matrix acts on the channel axis
            ycc = torch.einsum("ij,jhw->ihw", to_ycc, xb)
            ycc[1:] += 128.0
            ycc = ycc.round().clamp(0, 255).to(torch.uint8).numpy()
            planes = apply_av1_grain(ycc[0], ycc[1], ycc[2], p, (0, 0))
            g = torch.from_numpy(np.stack(planes)).to(dtype)  # type: ignore[arg-type]
            g[1:] -= 128.0
            out.append((torch.einsum("ij,jhw->ihw", to_rgb, g) / 255.0).clamp(0.0, 1.0))
    return torch.stack(out).to(device=x.device, dtype=x.dtype)


class AV1Grain(nn.Module):
    """Module twin of :func:`av1_grain`: stores the parameters.

    Example:
        >>> m = AV1Grain(AV1GrainParams(scaling_points_y=[(0, 40), (255, 40)]))
        >>> m(torch.full((1, 1, 8, 8), 0.5)).shape
        torch.Size([1, 1, 8, 8])
    """

    def __init__(self, params: AV1GrainParams) -> None:
        super().__init__()
        if not isinstance(params, AV1GrainParams):
            raise RestorekitError(f"params must be an AV1GrainParams, got {type(params).__name__}")
        self.params = params

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """See :func:`av1_grain`."""
        return av1_grain(x, self.params, generator=generator)


# ----------------------------------------------------------------------------------------------
# Estimation: parameters that reproduce a measured grain
# ----------------------------------------------------------------------------------------------


def _as_planes(a: object, name: str) -> list[np.ndarray]:
    """A 2-D array (gray), a ``(3, H, W)`` array or a sequence of 3 planes -> float planes."""
    if isinstance(a, np.ndarray) and a.ndim == 2:
        planes = [a]
    elif (isinstance(a, np.ndarray) and a.ndim == 3 and a.shape[0] == 3) or (
        isinstance(a, Sequence) and not isinstance(a, str) and len(a) in (1, 3)
    ):
        planes = list(a)
    else:
        got = f"shape {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__
        raise RestorekitError(
            f"{name} must be a 2-D plane, a (3, H, W) array or 3 planes (Y, Cb, Cr), got {got}"
        )
    out = []
    for k, p in enumerate(planes):
        arr = np.asarray(p)
        if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
            raise RestorekitError(f"{name} plane {k} must be 2-D, got shape {arr.shape}")
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
            raise RestorekitError(f"{name} plane {k} must be numeric, got dtype {arr.dtype}")
        out.append(arr.astype(np.float64))
    return out


def _infer_subsampling(luma: tuple[int, int], chroma: tuple[int, int]) -> tuple[int, int]:
    h, w = luma
    for sx, sy in ((0, 0), (1, 0), (1, 1)):
        if chroma == ((h + sy) >> sy, (w + sx) >> sx):
            return sx, sy
    raise RestorekitError(
        f"chroma planes must be {luma} (4:4:4), {(h, (w + 1) >> 1)} (4:2:2) or "
        f"{((h + 1) >> 1, (w + 1) >> 1)} (4:2:0) for luma {luma}, got {chroma}"
    )


def _chroma_mask(mask: np.ndarray, sx: int, sy: int) -> np.ndarray:
    """A chroma pixel counts if every luma pixel it covers counts (edges repeated)."""
    if not (sx or sy):
        return mask
    m = np.pad(mask, ((0, mask.shape[0] % 2 * sy), (0, mask.shape[1] % 2 * sx)), mode="edge")
    out = m[:: 1 << sy, :: 1 << sx].copy()
    if sx:
        out &= m[:: 1 << sy, 1::2]
    if sy:
        out &= m[1::2, :: 1 << sx]
        if sx:
            out &= m[1::2, 1::2]
    return out


def _block_mean(a: np.ndarray, sx: int, sy: int) -> np.ndarray:
    """The mean of each ``2^sy x 2^sx`` block (edges repeated): luma at chroma resolution."""
    if not (sx or sy):
        return a
    m = np.pad(a, ((0, a.shape[0] % 2 * sy), (0, a.shape[1] % 2 * sx)), mode="edge")
    H, W = m.shape
    return m.reshape(H >> sy, 1 << sy, W >> sx, 1 << sx).mean(axis=(1, 3))


def _std_curve(
    intensity: np.ndarray,
    grain: np.ndarray,
    mask: np.ndarray,
    num_points: int,
    noise: np.ndarray | None = None,
    knots: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The grain's standard deviation as a piecewise-linear function of the intensity.

    The variance is measured per integer intensity (bins with at least 16 pixels), less the
    1/12 that the synthesis' rounding adds. With ``noise`` (a synthesised noise image), the
    per-bin value is the ratio of that std to the noise's std at the same pixels (the scaling
    the noise needs). The values at ``num_points`` evenly spaced knots over the measured range
    (or the given ``knots``) are the weighted least-squares fit of the piecewise-linear
    interpolant to the per-bin values (weights: pixel counts), with a light second-difference
    penalty that bridges intensity gaps linearly.

    Returns:
        ``(knots, values)``: integer knots, strictly increasing, and the value at each (>= 0).
    """
    idx = np.clip(np.rint(intensity[mask]), 0, 255).astype(np.int64)
    g = grain[mask]
    count = np.bincount(idx, minlength=256).astype(np.float64)
    s1 = np.bincount(idx, weights=g, minlength=256)
    s2 = np.bincount(idx, weights=g * g, minlength=256)
    used = np.flatnonzero(count >= 16)
    if used.size == 0:
        raise RestorekitError(
            f"too few masked pixels to measure the grain: need 16 of one intensity, got "
            f"{int(count.max()) if count.size else 0}"
        )
    n = count[used]
    var = s2[used] / n - (s1[used] / n) ** 2
    target = np.sqrt(np.maximum(var - 1.0 / 12.0, 0.0))
    if knots is None:
        lo, hi = int(used[0]), int(used[-1])
        knots = np.unique(np.rint(np.linspace(lo, hi, max(1, min(num_points, hi - lo + 1)))))
        knots = knots.astype(np.int64)
    if noise is not None:
        z = noise[mask].astype(np.float64)
        t1 = np.bincount(idx, weights=z, minlength=256)[used]
        t2 = np.bincount(idx, weights=z * z, minlength=256)[used]
        nvar = t2 / n - (t1 / n) ** 2
        keep = nvar > 0
        if not keep.any():
            return knots, np.zeros(knots.size)
        used, n, target = used[keep], n[keep], target[keep] / np.sqrt(nvar[keep])
    if knots.size == 1:
        return knots, np.array([float(np.average(target, weights=n))])
    # hat functions of the knots at the used bins: the piecewise-linear interpolant's design
    A = np.stack([np.interp(used, knots, np.eye(knots.size)[k]) for k in range(knots.size)], 1)
    w = np.sqrt(n)
    rows = [A * w[:, None]]
    rhs = [target * w]
    if knots.size >= 3:
        D = np.zeros((knots.size - 2, knots.size))
        for k in range(knots.size - 2):
            D[k, k : k + 3] = (1.0, -2.0, 1.0)
        rows.append(D * 0.05 * float(np.sqrt(np.median(n))))
        rhs.append(np.zeros(knots.size - 2))
    sol = np.linalg.lstsq(np.concatenate(rows), np.concatenate(rhs), rcond=None)[0]
    return knots, np.maximum(sol, 0.0)


def _causal_offsets(lag: int) -> list[tuple[int, int]]:
    """The spec's order of the causal neighbours: rows ``-L..-1`` at ``-L..L``, then row 0."""
    return [(dy, dx) for dy in range(-lag, 1) for dx in range(-lag, lag + 1) if dy < 0 or dx < 0]


def _inside_blocks(shape: tuple[int, int], lag: int, subx: int, suby: int) -> np.ndarray:
    """Pixels whose causal neighbourhood lies inside one grain block, clear of its blended edge.

    AV1 grain is pasted block by block (32 x 32 luma, ``32 >> s`` chroma), each block a crop of
    the template at its own offset, the first ``2 >> s`` rows and columns blended with the
    neighbours: across a block edge, neighbours are not the template's neighbours.
    """
    bh, bw = 32 >> suby, 32 >> subx
    oy, ox = 2 >> suby, 2 >> subx
    ry = np.arange(shape[0]) % bh
    rx = np.arange(shape[1]) % bw
    rows = ry >= lag + oy
    cols = (rx >= lag + ox) & (rx + lag <= bw - 1)
    return rows[:, None] & cols[None, :]


def _fit_ar(
    target: np.ndarray,
    valid: np.ndarray,
    lag: int,
    extra: np.ndarray | None,
    max_samples: int,
    what: str,
    sub: tuple[int, int],
) -> tuple[np.ndarray, float]:
    """Least-squares causal AR fit of ``target`` on its neighbours (and ``extra``).

    Only pixels whose whole neighbourhood is ``valid`` and inside one grain block (see
    :func:`_inside_blocks`; ``sub`` is the plane's subsampling) take part, at most
    ``max_samples`` of them, evenly spread. Returns the coefficients (spec order, ``extra``'s
    last) and the standard deviation of the residual (the innovation).
    """
    H, W = target.shape
    offs = _causal_offsets(lag)
    ok = np.zeros_like(valid)
    if lag < H and 2 * lag < W:
        ok[lag:, lag : W - lag] = valid[lag:, lag : W - lag]
        for dy, dx in offs:
            ok[lag:, lag : W - lag] &= valid[lag + dy : H + dy, lag + dx : W - lag + dx]
    ok &= _inside_blocks((H, W), lag, *sub)
    idx = np.flatnonzero(ok)
    n_coeffs = len(offs) + (extra is not None)
    if idx.size < max(64, 10 * n_coeffs):
        raise RestorekitError(
            f"too few usable pixels to fit the {what} grain's lag-{lag} filter: need "
            f"{max(64, 10 * n_coeffs)} with their whole neighbourhood in the mask, got {idx.size}"
        )
    if idx.size > max_samples:
        idx = idx[np.linspace(0, idx.size - 1, max_samples).astype(np.int64)]
    flat = target.ravel()
    cols = [flat[idx + dy * W + dx] for dy, dx in offs]
    if extra is not None:
        cols.append(extra.ravel()[idx])
    b = flat[idx]
    if not cols:
        return np.zeros(0), float(np.std(b))
    X = np.stack(cols, axis=1)
    coef = np.linalg.lstsq(X, b, rcond=None)[0]
    return coef, float(np.std(b - X @ coef))


def fit_av1_table(
    image: np.ndarray | Sequence[np.ndarray],
    grain: np.ndarray | Sequence[np.ndarray],
    mask: np.ndarray | Sequence[np.ndarray] | None = None,
    ar_lag: int = 3,
    num_points: int = 8,
    *,
    random_seed: int = 0,
    grain_scale_shift: int = 0,
    overlap_flag: bool = True,
    min_std: float = 0.5,
    max_samples: int = 200_000,
) -> AV1GrainParams:
    """Fit AV1 film grain parameters to a measured grain.

    For each plane (luma first):

    1. The grain's standard deviation as a function of intensity, per integer intensity over the
       masked pixels, fitted by a piecewise-linear function with ``num_points`` knots. The
       intensity of luma is the clean luma; of chroma, the clean luma averaged as the synthesis
       averages it (so the chroma scaling uses ``cb_mult = 128``, ``cb_luma_mult = 192``,
       ``cb_offset = 256``: its index is the co-located luma, as in libaom's noise model).
    2. The auto-regressive coefficients of lag ``ar_lag`` by least squares on the grain divided
       by that standard deviation (which makes it stationary), over the pixels whose causal
       neighbourhood is in the mask and inside one 32 x 32 grain block (AV1's blocks are
       separate crops of the template, so neighbours across a block edge are not template
       neighbours; on natural grain this only drops samples). Chroma adds a regressor, the
       co-located luma grain in template units: the normalised luma grain times the std of the
       noise image that the fitted luma template makes on this picture. The chroma innovation's
       (the residual's) std sets the chroma template's scale, hence its luma coefficient.
    3. One ``ar_coeff_shift`` for all planes, the largest (most precise) in 6..9 at which every
       coefficient fits in -128..127; the coefficients rounded to it.
    4. The unscaled noise images that those coefficients and ``random_seed`` make on this
       picture (templates, block offsets and overlap as in :func:`apply_av1_grain`): the
       scaling function is the measured std over the noise's std, per intensity, fitted as in
       1 at the same knots (``scaling = ratio * 2^scaling_shift``, with ``scaling_shift`` the
       largest in 8..11 that keeps every value in 0..255). Re-applying the parameters to this
       picture thus reproduces the measured variance per intensity; with another seed (or on
       another picture) the template's realisation changes it by a few per cent for luma, and
       by up to about 20 % for 4:2:0 chroma, whose 38 x 44 template has only about 32 x 32
       independent samples in reach of the blocks.

    A plane whose grain std stays under ``min_std`` everywhere gets no scaling points (no
    grain). Times, ``apply_grain``, ``update_parameters`` and ``clip_to_restricted_range`` are
    left at their defaults.

    Args:
        image: the clean (or denoised) picture on 0..255, float: a luma plane ``(H, W)``, a
            ``(3, H, W)`` YCbCr array (4:4:4) or three planes ``(Y, Cb, Cr)`` with chroma
            ``(H, W)``, ``(H, (W + 1) // 2)`` or ``((H + 1) // 2, (W + 1) // 2)``.
        grain: the grain, ``noisy - clean``, in the same layout.
        mask: the pixels to learn from (flat areas, where ``grain`` is grain and not detail):
            a luma-sized boolean array (a chroma pixel counts if all its luma pixels do), one
            per plane, or ``None`` for all.
        ar_lag: 0..3, the lag of the auto-regressive filter.
        num_points: 1..10, the number of scaling points per plane.
        random_seed: the seed of the returned parameters.
        grain_scale_shift: 0..3, the returned ``grain_scale_shift``.
        overlap_flag: the returned ``overlap_flag``.
        min_std: a plane whose fitted std stays below this (8-bit units) gets no grain.
        max_samples: at most this many pixels per plane enter the least-squares fit.

    Returns:
        The parameters.

    Raises:
        RestorekitError: inputs of the wrong layout or shapes, arguments out of range, or too
            few masked pixels to fit.

    Example:
        >>> clean = np.full((96, 128), 100.0)
        >>> noisy, _, _ = apply_av1_grain(clean.astype(np.uint8), None, None,
        ...     AV1GrainParams(scaling_points_y=[(0, 48)], scaling_shift=8, random_seed=5))
        >>> p = fit_av1_table(clean, noisy - clean, ar_lag=0, num_points=1, random_seed=5)
        >>> p.scaling_points_y[0][0], abs(p.scaling_points_y[0][1] * 2 ** (8 - p.scaling_shift)
        ...     - 48) < 3
        (100, True)
    """
    if not (isinstance(ar_lag, int) and 0 <= ar_lag <= 3):
        raise RestorekitError(f"ar_lag must be an integer in 0..3, got {ar_lag!r}")
    if not (isinstance(num_points, int) and 1 <= num_points <= 10):
        raise RestorekitError(f"num_points must be an integer in 1..10, got {num_points!r}")
    if not (isinstance(grain_scale_shift, int) and 0 <= grain_scale_shift <= 3):
        raise RestorekitError(f"grain_scale_shift must be in 0..3, got {grain_scale_shift!r}")
    if not (isinstance(max_samples, int) and max_samples >= 1000):
        raise RestorekitError(f"max_samples must be an integer >= 1000, got {max_samples!r}")
    img = _as_planes(image, "image")
    grn = _as_planes(grain, "grain")
    if len(img) != len(grn):
        raise RestorekitError(
            f"image and grain must have the same planes, got {len(img)} and {len(grn)}"
        )
    for k, (a, b) in enumerate(zip(img, grn, strict=True)):
        if a.shape != b.shape:
            raise RestorekitError(
                f"image and grain plane {k} must have the same shape, got {a.shape} and {b.shape}"
            )
    mono = len(img) == 1
    luma_shape = img[0].shape
    subx = suby = 0
    if not mono:
        if img[1].shape != img[2].shape:
            raise RestorekitError(
                f"Cb and Cr planes must have the same shape, got {img[1].shape} and {img[2].shape}"
            )
        subx, suby = _infer_subsampling(luma_shape, img[1].shape)
    masks = _fit_masks(mask, img, subx, suby)

    # 1. std curves; intensity of chroma = luma as the synthesis averages it
    intens = [img[0]]
    if not mono:
        yy = img[0][:: 1 << suby]
        if subx:
            right = np.concatenate([yy[:, 1:], yy[:, -1:]], axis=1)
            yy = ((yy + right) / 2.0)[:, ::2]
        intens += [yy[: img[1].shape[0], : img[1].shape[1]]] * 2
    curves = [_std_curve(i, g, m, num_points) for i, g, m in zip(intens, grn, masks, strict=True)]
    active = [bool(c[1].max() >= min_std) for c in curves]

    # 2. AR fits on the normalised grain
    normed, valids = [], []
    for (knots, std), i, g, m in zip(curves, intens, grn, masks, strict=True):
        s = np.interp(i, knots, std)
        ok = m & (s >= max(min_std, 1e-3))
        normed.append(np.where(ok, g / np.where(ok, s, 1.0), 0.0))
        valids.append(ok)
    n_luma = _num_pos_luma(ar_lag)
    coef_y = np.zeros(n_luma)
    if active[0]:
        coef_y = _fit_ar(normed[0], valids[0], ar_lag, None, max_samples, "luma", (0, 0))[0]
    shift = _ar_shift([coef_y])
    q_y = _quantise(coef_y, shift)
    luma_t = None
    if active[0]:
        probe = AV1GrainParams(
            random_seed=random_seed,
            scaling_points_y=[(0, 1)],
            ar_coeff_lag=ar_lag,
            ar_coeffs_y=q_y,
            ar_coeff_shift=shift,
            grain_scale_shift=grain_scale_shift,
        )
        luma_t = _grain_templates(probe, 0, 0, True)[0]
    coef_c: list[np.ndarray] = []
    if not mono:
        sigma_w = float(np.std(_round2(_GAUSSIAN_SEQUENCE, 4 + grain_scale_shift)))
        luma_reg = None
        luma_ok = np.ones(img[1].shape, dtype=bool)
        if luma_t is not None:
            # the luma grain in template units: over its std, times the std of the noise image
            # that the luma template makes on this picture (what the scaling will multiply)
            h, w = luma_shape
            offsets = _block_offsets(random_seed, (h + 31) >> 5, (w + 31) >> 5)
            n_y = _noise_plane(luma_t, offsets, 0, 0, overlap_flag, h, w)
            g_y = normed[0] * float(np.std(n_y[valids[0]]))
            luma_reg = _block_mean(g_y, subx, suby)
            luma_ok = _chroma_mask(valids[0], subx, suby)
        for k in (1, 2):
            coef = np.zeros(n_luma + (luma_reg is not None))
            if active[k]:
                ok = valids[k] & luma_ok
                what = "Cb" if k == 1 else "Cr"
                coef, sigma_e = _fit_ar(
                    normed[k], ok, ar_lag, luma_reg, max_samples, what, (subx, suby)
                )
                if luma_reg is not None:
                    coef[-1] *= sigma_w / max(sigma_e, 1e-6)  # to template units (kappa)
            coef_c.append(coef)
    shift = _ar_shift([coef_y, *coef_c])

    # 3.-4. quantise, regenerate the templates, calibrate the scaling
    has_y = active[0] or bool(not mono and subx and suby and (active[1] or active[2]))
    q_y = _quantise(coef_y, shift)
    q_c = []
    for c in coef_c:
        q = list(_quantise(c[:n_luma], shift))
        if has_y:  # the coefficient on the luma grain (0 if the luma grain was not fitted)
            q.append(_quantise(c[n_luma:], shift)[0] if c.size > n_luma else 0)
        q_c.append(tuple(q))
    probe = AV1GrainParams(
        random_seed=random_seed,
        scaling_points_y=[(0, 1)] if has_y else (),
        scaling_points_cb=[(0, 1)] if not mono else (),
        scaling_points_cr=[(0, 1)] if not mono else (),
        ar_coeff_lag=ar_lag,
        ar_coeffs_y=q_y,
        ar_coeffs_cb=q_c[0] if q_c else None,
        ar_coeffs_cr=q_c[1] if q_c else None,
        ar_coeff_shift=shift,
        grain_scale_shift=grain_scale_shift,
    )
    templates = _grain_templates(probe, subx, suby, mono)
    h, w = luma_shape
    offsets = _block_offsets(random_seed, (h + 31) >> 5, (w + 31) >> 5)
    ratios = []  # scaling / 2^scaling_shift at the knots, per plane
    for k, t in enumerate(templates):
        if t is None:
            continue
        sx, sy = (0, 0) if k == 0 else (subx, suby)
        noise = _noise_plane(t, offsets, sx, sy, overlap_flag, *img[k].shape)
        knots = curves[k][0]
        ratios.append(_std_curve(intens[k], grn[k], masks[k], num_points, noise, knots)[1])
    scaling_shift = 8
    for ss in (11, 10, 9, 8):
        top = max((float(r.max()) for r, a in zip(ratios, active, strict=True) if a), default=0)
        if round(top * 2**ss) <= 255:
            scaling_shift = ss
            break
    points: list[list[tuple[int, int]]] = []
    for (knots, _), r, a in zip(curves, ratios, active, strict=True):
        vals = np.clip(np.rint(r * 2**scaling_shift), 0, 255).astype(int)
        points.append([(int(x), int(v)) for x, v in zip(knots, vals, strict=True)] if a else [])
    if has_y and not points[0]:
        points[0] = [(0, 0)]  # 4:2:0 chroma grain needs luma points; this one adds nothing
    if not mono and subx and suby and bool(points[1]) != bool(points[2]):
        k = 1 if not points[1] else 2
        points[k] = [(0, 0)]
    return AV1GrainParams(
        random_seed=random_seed,
        scaling_points_y=points[0],
        scaling_points_cb=points[1] if not mono else (),
        scaling_points_cr=points[2] if not mono else (),
        scaling_shift=scaling_shift,
        ar_coeff_lag=ar_lag,
        ar_coeffs_y=q_y,
        ar_coeffs_cb=q_c[0] if q_c else None,
        ar_coeffs_cr=q_c[1] if q_c else None,
        ar_coeff_shift=shift,
        grain_scale_shift=grain_scale_shift,
        overlap_flag=overlap_flag,
    )


def _fit_masks(
    mask: np.ndarray | Sequence[np.ndarray] | None,
    img: list[np.ndarray],
    subx: int,
    suby: int,
) -> list[np.ndarray]:
    """Per-plane boolean masks (finite pixels only) from ``None``, a luma mask or one per plane."""
    if mask is None:
        masks = [np.ones(p.shape, dtype=bool) for p in img]
    elif isinstance(mask, np.ndarray) and mask.ndim == 2:
        if mask.shape != img[0].shape:
            raise RestorekitError(
                f"mask must have the luma plane's shape {img[0].shape}, got {mask.shape}"
            )
        m = mask.astype(bool)
        masks = [m] + [_chroma_mask(m, subx, suby)] * (len(img) - 1)
    else:
        planes = list(mask) if isinstance(mask, Sequence | np.ndarray) else []
        if len(planes) != len(img):
            raise RestorekitError(
                f"mask must be a luma-sized array or one mask per plane ({len(img)}), got "
                f"{len(planes) if planes else type(mask).__name__}"
            )
        masks = []
        for k, (m, p) in enumerate(zip(planes, img, strict=True)):
            m = np.asarray(m).astype(bool)
            if m.shape != p.shape:
                raise RestorekitError(f"mask plane {k} must have shape {p.shape}, got {m.shape}")
            masks.append(m)
    return [m & np.isfinite(p) for m, p in zip(masks, img, strict=True)]


def _ar_shift(coeff_sets: Sequence[np.ndarray]) -> int:
    """The largest ``ar_coeff_shift`` in 6..9 at which every coefficient rounds into -128..127."""
    for shift in (9, 8, 7, 6):
        if all(
            c.size == 0
            or (np.rint(c * 2**shift).max() <= 127 and np.rint(c * 2**shift).min() >= -128)
            for c in coeff_sets
        ):
            return shift
    return 6


def _quantise(coeffs: np.ndarray, shift: int) -> tuple[int, ...]:
    """Coefficients as the table's integers at ``ar_coeff_shift`` (clipped to -128..127)."""
    return tuple(int(v) for v in np.clip(np.rint(coeffs * 2**shift), -128, 127))
