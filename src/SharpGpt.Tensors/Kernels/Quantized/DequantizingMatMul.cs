using SharpGpt.Tensors.Kernels.Gemm;
using SharpGpt.Tensors.Memory;

namespace SharpGpt.Tensors.Kernels.Quantized;

/// <summary>
/// output (M, N) = input (M, K) · Wᵀ (+ bias) for many rows of a quantized W (prompts, scoring): the packed fp32 GEMM,
/// with each NR-wide panel of W dequantized (w = scale · q) as it is packed, so the weights stay quantized in memory
/// while the arithmetic runs on the register-tiled micro-kernel with fp32 activations. At 256 rows the int8
/// integer kernel (<see cref="QuantizedMatMul"/>, built for streaming one or a few rows) is compute-bound; this path
/// reuses each dequantized panel for every row. Every element of a row is computed the same way whatever the other
/// rows are, so it is row-invariant, but not bitwise equal to <see cref="QuantizedMatMul"/>.
/// </summary>
public static unsafe class DequantizingMatMul
{
    public static void Forward(float* output, float* input, QuantizedMatrix weights, float* bias, int rows)
    {
        QuantizedRows source = new(weights);
        Gemm.Gemm.MultiplyPanels(rows, weights.Rows, weights.Columns, MatrixView.RowMajor(input, weights.Columns), &PackPanel, &source,
            output, weights.Rows, accumulate: false);
        if (bias != null)
        {
            MatMul.AddBias(output, bias, rows, weights.Rows);
        }
    }

    /// <summary>
    /// One GEMM panel of B = Wᵀ: weight rows [col0, col0 + width), columns [k0, k0 + kc). The rows are dequantized
    /// into a per-thread buffer (width × kc) and packed from there by the fp32 packer (8×8 register transposes).
    /// </summary>
    private static void PackPanel(void* context, int k0, int kc, int col0, int width, int nr, float* destination)
    {
        ref QuantizedRows source = ref *(QuantizedRows*)context;
        float* rows = ScratchArena.Get(ScratchArena.DequantizedPanel, (long)nr * kc);
        for (int j = 0; j < width; j++)
        {
            source.Dequantize(col0 + j, k0, kc, rows + (long)j * kc);
        }
        // B(k, j) = W(col0 + j, k0 + k) = rows[j·kc + k]: a transposed view.
        Packing.PackBPanel(new MatrixView(rows, 1, kc), 0, kc, 0, width, nr, destination);
    }
}
