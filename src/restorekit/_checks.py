"""Validation helpers shared by every public function.

One place checks a tensor is an image and turns a noise level into a broadcastable tensor, so
that every function raises the same clear error for the same mistake.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from restorekit.errors import RestorekitError

__all__ = ["check_image", "check_positive", "closest_names", "sigma_to_tensor"]


def check_image(
    x: torch.Tensor,
    channels: Sequence[int] | int | None = None,
    name: str = "image",
    min_size: int = 1,
) -> None:
    """Check that ``x`` is a float image tensor ``(B, C, H, W)``.

    Args:
        x: the tensor to check.
        channels: allowed channel counts (``None`` accepts any).
        name: what to call the tensor in the error message.
        min_size: the smallest allowed height and width.

    Raises:
        RestorekitError: naming the expected and the actual value.

    Example:
        >>> check_image(torch.zeros(1, 3, 8, 8), channels=(1, 3))
        >>> check_image(torch.zeros(1, 2, 8, 8), channels=(1, 3))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        restorekit.errors.RestorekitError: image must have 1 or 3 channels, got 2 (shape ...)
    """
    if not isinstance(x, torch.Tensor):
        raise RestorekitError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise RestorekitError(f"{name} must have shape (B, C, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise RestorekitError(f"{name} must be a float tensor in [0, 1], got dtype {x.dtype}")
    if channels is not None:
        allowed = (channels,) if isinstance(channels, int) else tuple(channels)
        if x.shape[1] not in allowed:
            want = " or ".join(str(c) for c in allowed)
            raise RestorekitError(
                f"{name} must have {want} channels, got {x.shape[1]} (shape {tuple(x.shape)})"
            )
    if x.shape[-2] < min_size or x.shape[-1] < min_size:
        raise RestorekitError(
            f"{name} must be at least {min_size}x{min_size} pixels, got {x.shape[-2]}x{x.shape[-1]}"
        )


def check_positive(value: float, name: str, allow_zero: bool = True) -> float:
    """Return ``value`` as a float if it is finite and non-negative (or positive).

    Example:
        >>> check_positive(2, "scale")
        2.0
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise RestorekitError(f"{name} must be a number, got {value!r}") from None
    if v != v or v in (float("inf"), float("-inf")) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise RestorekitError(f"{name} must be a finite number {bound}, got {value!r}")
    return v


def sigma_to_tensor(sigma: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Broadcast a noise level to ``(B, 1, 1, 1)`` on ``x``'s device and dtype.

    Args:
        sigma: a float or a ``(B,)`` tensor, on the [0, 1] scale (sigma 25 on 0..255 is 25/255).
        x: the image ``(B, C, H, W)`` the noise level applies to.

    Returns:
        A ``(B, 1, 1, 1)`` tensor.

    Example:
        >>> sigma_to_tensor(0.1, torch.zeros(2, 3, 4, 4)).shape
        torch.Size([2, 1, 1, 1])
    """
    B = x.shape[0]
    if isinstance(sigma, torch.Tensor):
        s = sigma.to(device=x.device, dtype=x.dtype).reshape(-1)
        if s.numel() == 1:
            s = s.expand(B)
        if s.numel() != B:
            raise RestorekitError(
                f"sigma must be a float or a ({B},) tensor, got {tuple(sigma.shape)}"
            )
        if not torch.isfinite(s).all() or (s < 0).any():
            raise RestorekitError("sigma must be finite and >= 0")
        return s.reshape(B, 1, 1, 1)
    v = check_positive(sigma, "sigma")
    return torch.full((B, 1, 1, 1), v, device=x.device, dtype=x.dtype)


def closest_names(name: str, known: Sequence[str]) -> list[str]:
    """Order ``known`` by similarity to ``name``, closest first (for 'unknown name' errors).

    Example:
        >>> closest_names("mch", ["bilinear", "mhc", "menon"])[0]
        'mhc'
    """
    import difflib

    def score(k: str) -> float:
        return difflib.SequenceMatcher(None, name.lower(), k.lower()).ratio()

    return sorted(known, key=score, reverse=True)
