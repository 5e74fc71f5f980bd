namespace SharpGpt.Tensors.Kernels.Gemm;

/// <summary>
/// A strided view of a float matrix: element (row, col) is at Data[row * RowStride + col * ColStride].
/// Transposes are free: swap the strides. This is how one GEMM serves the forward pass (x·Wᵀ)
/// and both backward products (dY·W and dYᵀ·x).
/// </summary>
public readonly unsafe struct MatrixView
{
    public MatrixView(float* data, int rowStride, int colStride)
    {
        Data = data;
        RowStride = rowStride;
        ColStride = colStride;
    }

    public float* Data { get; }
    public int RowStride { get; }
    public int ColStride { get; }

    /// <summary>A row-major matrix with <paramref name="columns"/> columns.</summary>
    public static MatrixView RowMajor(float* data, int columns) => new(data, columns, 1);

    /// <summary>The transpose of a row-major matrix with <paramref name="columns"/> columns.</summary>
    public static MatrixView Transposed(float* data, int columns) => new(data, 1, columns);

    public float this[long row, long col] => Data[row * RowStride + col * ColStride];
}
