using System.Runtime.Intrinsics;

namespace SharpGpt.Tensors.Kernels.Gemm;

/// <summary>Which micro-kernel family a GEMM uses. Tests force each one; production uses <see cref="Auto"/>.</summary>
public enum GemmPath
{
    /// <summary>The widest path the hardware accelerates.</summary>
    Auto,
    /// <summary>8×32 register tile of Vector512 (AVX-512).</summary>
    Vector512,
    /// <summary>6×16 register tile of Vector256 (AVX2/NEON-class).</summary>
    Vector256,
    /// <summary>4×4 scalar tile, the portable fallback.</summary>
    Scalar,
    /// <summary>
    /// Dot-product tiles straight from x and W (x·Wᵀ layout only), for any number of rows: every element is
    /// summed in the same order whatever the other rows are, so a row's result does not depend on the batch
    /// it is computed in. Inference uses it, so a request's output never depends on what else is batched.
    /// </summary>
    RowInvariant,
    /// <summary>
    /// The widest packed micro-kernel for any number of rows, never the skinny streaming path. Each row of C is
    /// computed in the same order whatever the other rows are, so it is row-invariant too (but not bitwise equal
    /// to <see cref="RowInvariant"/>); inference uses it for prompt rows, where it is ≈1.7× faster.
    /// </summary>
    Packed,
}

internal static class GemmPathResolver
{
    public static GemmPath Resolve(GemmPath path) => path switch
    {
        GemmPath.Auto when Vector512.IsHardwareAccelerated => GemmPath.Vector512,
        GemmPath.Auto when Vector256.IsHardwareAccelerated => GemmPath.Vector256,
        GemmPath.Auto => GemmPath.Scalar,
        GemmPath.Packed => Resolve(GemmPath.Auto),
        GemmPath.RowInvariant => throw new ArgumentException("RowInvariant is not a packed path."),
        _ => path,
    };

    /// <summary>Register-tile height (rows of C) for a path.</summary>
    public static int TileRows(GemmPath path) => path switch
    {
        GemmPath.Vector512 => 8,
        GemmPath.Vector256 => 6,
        _ => 4,
    };

    /// <summary>Register-tile width (columns of C) for a path.</summary>
    public static int TileColumns(GemmPath path) => path switch
    {
        GemmPath.Vector512 => 32,
        GemmPath.Vector256 => 16,
        _ => 4,
    };
}
