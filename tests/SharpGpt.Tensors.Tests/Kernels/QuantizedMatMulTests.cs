using SharpGpt.Tensors.Kernels.Quantized;
using SharpGpt.Tensors.Random;
using SharpGpt.Tensors.Reference;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Tensors.Tests.Kernels;

public unsafe class QuantizedMatMulTests
{
    /// <summary>
    /// The fast and reference paths do the same integer dot products; only the float sum over ≤ 100 groups is
    /// ordered differently (and in float vs double): 1e-5 of the output scale.
    /// </summary>
    private const double TwinTolerance = 1e-5;

    /// <summary>
    /// Against fp32: per-group rounding of weights and inputs adds errors of ≤ half a step (1/254 of the group max
    /// for int8, 1/14 for int4) that average out over K; 2% and 15% of the output scale bound them with margin.
    /// </summary>
    private const double Int8VersusFloat = 0.02, Int4VersusFloat = 0.15;

    /// <summary>bf16 rounds each weight by at most 2⁻⁸ of itself and leaves the input alone: 0.5 % of the output scale with margin.</summary>
    private const double BFloat16VersusFloat = 0.005;

    /// <summary>
    /// The largest relative rounding error of fp32 → bf16: half an ulp (7 stored mantissa bits, so an ulp is 2⁻⁷ of
    /// the binade's start), 2⁻⁸ of a value at the bottom of its binade.
    /// </summary>
    private const float BFloat16RelativeError = 1f / 256;

    /// <summary>Every path this machine can run (Auto included).</summary>
    private static IEnumerable<QuantizedPath> SupportedPaths() => Enum.GetValues<QuantizedPath>().Where(path => path switch
    {
        QuantizedPath.Vnni => System.Runtime.Intrinsics.X86.AvxVnni.IsSupported,
        QuantizedPath.Avx512 => System.Runtime.Intrinsics.X86.Avx512BW.IsSupported,
        QuantizedPath.Avx2 => System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported,
        _ => true,
    });

    [Fact]
    public void TheDefaultPathIsOneThisMachineRuns()
    {
        foreach (QuantizationKind kind in new[] { QuantizationKind.Int8, QuantizationKind.Int4 })
        {
            Assert.Contains(QuantizedMatMul.DefaultPath(kind), SupportedPaths());
        }
    }

    /// <summary>
    /// The AVX2 fallback sums each group's byte products in two instructions where VNNI uses one, on the same
    /// integers in the same order: it must give the VNNI path's bits, in 4-row blocks and in single rows.
    /// </summary>
    [Theory]
    [InlineData(QuantizationKind.Int8, 1, 768)]
    [InlineData(QuantizationKind.Int8, 3, 100)]
    [InlineData(QuantizationKind.Int4, 1, 3072)]
    [InlineData(QuantizationKind.Int4, 5, 257)]
    public void TheAvx2PathGivesTheVnniPathsBits(QuantizationKind kind, int rows, int k)
    {
        if (!SupportedPaths().Contains(QuantizedPath.Vnni) || !SupportedPaths().Contains(QuantizedPath.Avx2))
        {
            return; // Needs a processor with both (Alder Lake, Zen 5); the twin test above covers each alone.
        }
        const int N = 43; // ten 4-row blocks and a tail of three single rows
        Rng rng = new((ulong)(k + rows));
        // Each group's largest input and int8 weight quantize to ±127: pair sums reach 2·127·127 = 32,258, close to
        // the int16 limit of vpmaddubsw.
        float[] x = TestArrays.Uniform(rng, rows * k), w = TestArrays.Uniform(rng, N * k);
        float[] vnni = new float[rows * N], avx2 = new float[rows * N];
        fixed (float* pw = w, px = x, pv = vnni, pa = avx2)
        {
            using QuantizedMatrix q = QuantizedMatrix.Quantize(pw, N, k, kind);
            QuantizedMatMul.Forward(pv, px, q, null, rows, QuantizedPath.Vnni);
            QuantizedMatMul.Forward(pa, px, q, null, rows, QuantizedPath.Avx2);
        }
        Assert.Equal(vnni, avx2);
    }

    public static TheoryData<int, int, int, QuantizationKind> Shapes()
    {
        var data = new TheoryData<int, int, int, QuantizationKind>();
        foreach (QuantizationKind kind in Enum.GetValues<QuantizationKind>())
        {
            data.Add(1, 1, 32, kind);
            data.Add(1, 7, 31, kind);
            data.Add(3, 33, 64, kind);
            data.Add(5, 40, 100, kind);
            data.Add(2, 65, 768, kind);
            data.Add(17, 31, 257, kind);
            // Several 32-row cache tiles per thread's range, and a 1-row tail after the last 4-row block.
            data.Add(3, 301, 96, kind);
            // GPT-2 XL's width: 50 groups, whole wide units (2 or 4 groups) and a tail of groups after them.
            data.Add(2, 9, 1600, kind);
            data.Add(4, 8, 224, kind);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void EveryPathMatchesItsReferenceAndApproximatesFloat(int rows, int n, int k, QuantizationKind kind)
    {
        Rng rng = new((ulong)(rows * 1000 + n * 10 + k));
        float[] x = TestArrays.Uniform(rng, rows * k), w = TestArrays.Uniform(rng, n * k), bias = TestArrays.Uniform(rng, n);
        float[] exact = new float[rows * n], expected = new float[rows * n];
        ReferenceMatMul.Forward(exact, x, w, bias, rows, k, n);
        fixed (float* pw = w)
        {
            using QuantizedMatrix q = QuantizedMatrix.Quantize(pw, n, k, kind);
            ReferenceQuantizedMatMul.Forward(expected, x, q, bias, rows);
            foreach (QuantizedPath path in SupportedPaths())
            {
                float[] actual = new float[rows * n];
                fixed (float* px = x, pb = bias, py = actual)
                {
                    QuantizedMatMul.Forward(py, px, q, pb, rows, path);
                }
                NumericAssert.CloseRelativeToScale(expected, actual, TwinTolerance, $"{kind} {path}");
            }
            double versusFloat = kind switch
            {
                QuantizationKind.Int8 => Int8VersusFloat,
                QuantizationKind.Int4 => Int4VersusFloat,
                _ => BFloat16VersusFloat,
            };
            NumericAssert.CloseRelativeToScale(exact, expected, versusFloat, $"{kind} vs fp32");
        }
    }

    /// <summary>
    /// Decoding relies on a row's result not depending on the batch it came in: every path must give each row the
    /// same bits computed alone as in a batch of 7 (4-row blocks, single tail rows, whole units and tail groups).
    /// </summary>
    [Theory]
    [InlineData(QuantizationKind.Int8, 224)]
    [InlineData(QuantizationKind.Int4, 224)]
    [InlineData(QuantizationKind.Int8, 768)]
    [InlineData(QuantizationKind.Int4, 1600)]
    [InlineData(QuantizationKind.BFloat16, 224)]
    [InlineData(QuantizationKind.BFloat16, 100)]
    public void EveryRowGetsTheSameBitsAloneAsInABatch(QuantizationKind kind, int k)
    {
        const int Rows = 7, N = 38;
        Rng rng = new((ulong)k);
        float[] x = TestArrays.Uniform(rng, Rows * k), w = TestArrays.Uniform(rng, N * k);
        fixed (float* pw = w, px = x)
        {
            using QuantizedMatrix q = QuantizedMatrix.Quantize(pw, N, k, kind);
            foreach (QuantizedPath path in SupportedPaths())
            {
                float[] batch = new float[Rows * N], alone = new float[N];
                fixed (float* pbatch = batch, palone = alone)
                {
                    QuantizedMatMul.Forward(pbatch, px, q, null, Rows, path);
                    for (int r = 0; r < Rows; r++)
                    {
                        QuantizedMatMul.Forward(palone, px + r * k, q, null, 1, path);
                        Assert.True(alone.AsSpan().SequenceEqual(batch.AsSpan(r * N, N)), $"{kind} {path}: row {r} differs alone");
                    }
                }
            }
        }
    }

    [Fact]
    public void QuantizationRoundTripsWithinHalfAStep()
    {
        Rng rng = new(4);
        float[] w = TestArrays.Uniform(rng, 3 * 70, 2f);
        foreach (QuantizationKind kind in Enum.GetValues<QuantizationKind>())
        {
            fixed (float* pw = w)
            {
                using QuantizedMatrix q = QuantizedMatrix.Quantize(pw, 3, 70, kind);
                for (int r = 0; r < 3; r++)
                {
                    for (int c = 0; c < 70; c++)
                    {
                        float step = kind == QuantizationKind.BFloat16
                            ? 2 * BFloat16RelativeError * MathF.Abs(w[r * 70 + c])
                            : q.Scales[r * q.Groups + c / 32];
                        Assert.InRange(q.Dequantize(r, c), w[r * 70 + c] - step / 2 - 1e-6f, w[r * 70 + c] + step / 2 + 1e-6f);
                    }
                }
            }
        }
    }

    /// <summary>Every vector width of the bf16 product this machine runs, against the double reference.</summary>
    [Theory]
    [InlineData(1, 5, 15)]   // no whole vector
    [InlineData(3, 37, 100)] // vector tails at 256 and 512 bits
    [InlineData(2, 65, 768)]
    public void EveryBFloat16WidthMatchesTheReference(int rows, int n, int k)
    {
        Rng rng = new((ulong)(rows * 31 + n * 7 + k));
        float[] x = TestArrays.Uniform(rng, rows * k), w = TestArrays.Uniform(rng, n * k), bias = TestArrays.Uniform(rng, n);
        float[] expected = new float[rows * n];
        fixed (float* pw = w, px = x, pb = bias)
        {
            using QuantizedMatrix q = QuantizedMatrix.Quantize(pw, n, k, QuantizationKind.BFloat16);
            ReferenceQuantizedMatMul.Forward(expected, x, q, bias, rows);
            foreach (BFloat16MatMul.Width width in Enum.GetValues<BFloat16MatMul.Width>())
            {
                if ((width == BFloat16MatMul.Width.Vector512 && !System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
                    || (width == BFloat16MatMul.Width.Vector256 && !System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated))
                {
                    continue;
                }
                float[] actual = new float[rows * n];
                fixed (float* py = actual)
                {
                    BFloat16MatMul.Forward(py, px, q, pb, rows, width);
                }
                NumericAssert.CloseRelativeToScale(expected, actual, TwinTolerance, $"bf16 {width}");
            }
        }
    }

    [Fact]
    public void BFloat16RoundsToNearestEvenAndWidensExactly()
    {
        // 1 + 2⁻⁸ is exactly halfway between two bf16 values (1 and 1 + 2⁻⁷): ties go to the even one, 1.
        Assert.Equal(1f, QuantizedMatrix.FromBFloat16(QuantizedMatrix.ToBFloat16(1f + 1f / 256)));
        // (1 + 2⁻⁷) + 2⁻⁸ is halfway too, and the even neighbour is above: 1 + 2⁻⁶.
        Assert.Equal(1f + 1f / 64, QuantizedMatrix.FromBFloat16(QuantizedMatrix.ToBFloat16(1f + 1f / 128 + 1f / 256)));
        // Just above halfway rounds up.
        Assert.Equal(1f + 1f / 128, QuantizedMatrix.FromBFloat16(QuantizedMatrix.ToBFloat16(1f + 1f / 256 + 1f / 65536)));
        foreach (float exact in new[] { 0f, -2.5f, 3.140625f, float.PositiveInfinity, MathF.ScaleB(-1f, -100) })
        {
            Assert.Equal(exact, QuantizedMatrix.FromBFloat16(QuantizedMatrix.ToBFloat16(exact)));
        }
        Assert.True(float.IsNaN(QuantizedMatrix.FromBFloat16(QuantizedMatrix.ToBFloat16(float.NaN))));
        Assert.Throws<InvalidOperationException>(() =>
        {
            float[] one = [1f];
            fixed (float* p = one)
            {
                using QuantizedMatrix q = QuantizedMatrix.Quantize(p, 1, 1, QuantizationKind.BFloat16);
                return q.Value(0, 0);
            }
        });
    }

    [Fact]
    public void DequantizingARowGivesEveryElementsScaledValue()
    {
        Rng rng = new(8);
        float[] w = TestArrays.Uniform(rng, 5 * 70, 1.5f);
        float[] row = new float[70];
        foreach (QuantizationKind kind in Enum.GetValues<QuantizationKind>())
        {
            fixed (float* pw = w, prow = row)
            {
                using QuantizedMatrix q = QuantizedMatrix.Quantize(pw, 5, 70, kind);
                for (int r = 0; r < 5; r++)
                {
                    q.DequantizeRow(r, prow);
                    Assert.Equal(Enumerable.Range(0, 70).Select(c => q.Dequantize(r, c)), row);
                }
                bool refused = false;
                try
                {
                    q.DequantizeRow(5, prow);
                }
                catch (ArgumentOutOfRangeException)
                {
                    refused = true;
                }
                Assert.True(refused, "row 5 of 5 was dequantized");
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(31)]
    [InlineData(32)]
    [InlineData(33)]
    [InlineData(100)]
    [InlineData(768)]
    [InlineData(3071)]
    public void ActivationQuantizationIsByteForByteTheReferences(int length)
    {
        Rng rng = new((ulong)length);
        float[] x = TestArrays.Uniform(rng, length, 3f);
        // Every third group: maximum ±127, so the step is exactly 1 and k + ½ values are exact ties (to even).
        for (int start = 0; start < length; start += 3 * QuantizedMatrix.GroupSize)
        {
            x[start] = start % 2 == 0 ? 127f : -127f;
            for (int i = start + 1; i < Math.Min(length, start + QuantizedMatrix.GroupSize); i++)
            {
                x[i] = i - start - 16.5f;
            }
        }
        // An all-zero group.
        if (length > 64)
        {
            Array.Clear(x, 32, 32);
        }
        int groups = (length + QuantizedMatrix.GroupSize - 1) / QuantizedMatrix.GroupSize;
        byte[] fastBytes = new byte[groups * QuantizedMatrix.GroupSize], referenceBytes = new byte[fastBytes.Length];
        float[] fastScales = new float[groups], referenceScales = new float[groups];
        fixed (float* px = x, pfs = fastScales, prs = referenceScales)
        fixed (byte* pfb = fastBytes, prb = referenceBytes)
        {
            QuantizedMatMul.QuantizeRow(px, length, pfb, pfs);
            ReferenceQuantizedMatMul.QuantizeRow(px, length, prb, prs);
        }
        Assert.Equal(referenceScales, fastScales);
        Assert.Equal(referenceBytes, fastBytes);
    }
}
