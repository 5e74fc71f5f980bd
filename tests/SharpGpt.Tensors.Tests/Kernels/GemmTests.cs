using SharpGpt.Tensors.Kernels.Gemm;
using SharpGpt.Tensors.Random;
using SharpGpt.Tensors.Reference;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Tensors.Tests.Kernels;

public unsafe class GemmTests
{
    /// <summary>
    /// fp32 accumulation of K products of values in [−1, 1] drifts like √K·2⁻²⁴ times the result's scale;
    /// for K ≤ 4096 that is ≤ 4e-6. 2e-5 of the largest |C| (or 1) leaves a 5× margin and still fails on any
    /// misplaced element, which is off by O(1).
    /// </summary>
    private const double Tolerance = 2e-5;

    public static TheoryData<int, int, int> Shapes()
    {
        var data = new TheoryData<int, int, int>();
        int[] small = [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33];
        Rng rng = new(11);
        foreach (int m in small)
        {
            foreach (int n in new[] { 1, 4, 13, 32, 33, 47, 64, 65 })
            {
                data.Add(m, n, small[rng.NextInt(small.Length)] + rng.NextInt(40));
            }
        }
        // Several row blocks, column panels and depth slabs, with ragged edges everywhere.
        data.Add(129, 97, 300);
        data.Add(250, 70, 513);
        data.Add(37, 300, 257);
        data.Add(300, 33, 1);
        // One row block packs each B panel inside its compute task (two column blocks here); several row blocks
        // share panels packed first.
        data.Add(100, 4130, 9);
        data.Add(513, 70, 300);
        return data;
    }

    public enum Layout { NN, NT, TN, TT }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void AllPathsMatchReference(int m, int n, int k)
    {
        foreach (GemmPath path in new[] { GemmPath.Auto, GemmPath.Vector512, GemmPath.Vector256, GemmPath.Scalar })
        {
            foreach (Layout layout in Enum.GetValues<Layout>())
            {
                foreach (bool accumulate in new[] { false, true })
                {
                    Check(m, n, k, layout, accumulate, path, ldcPadding: (m + n) % 3);
                }
            }
        }
    }

    [Theory]
    [InlineData(1, 2304, 768)]
    [InlineData(3, 768, 768)]
    [InlineData(16, 3072, 768)]
    [InlineData(5, 50, 3072)]
    [InlineData(17, 40, 100)]
    [InlineData(2, 301, 33)]
    public void SkinnyDecodeShapesMatchReference(int m, int n, int k)
    {
        // Auto with a row-major input and a [out, in] weight takes the skinny (no-packing) path for m ≤ 16.
        Check(m, n, k, Layout.NT, accumulate: false, GemmPath.Auto, ldcPadding: 0);
        Check(m, n, k, Layout.NT, accumulate: true, GemmPath.Auto, ldcPadding: 5);
    }

    [Theory]
    [InlineData(37, 100)]
    [InlineData(301, 33)]
    [InlineData(66, 3072)]
    [InlineData(3, 15)]
    [InlineData(131, 768)]
    public void RowInvariantPathGivesEveryRowTheSameBitsWhateverTheBatch(int n, int k)
    {
        // Decoding batches 1–16 sequences into one product; a sequence's logits must not depend on its batch-mates
        // (the one-row, 4×4-tile and leftover-row code paths share one summation order).
        const int maxRows = 16;
        Rng rng = new((ulong)(n * 7919 + k));
        float[] a = TestArrays.Uniform(rng, maxRows * k);
        float[] w = TestArrays.Uniform(rng, n * k);
        float[] all = new float[maxRows * n];
        fixed (float* pa = a, pw = w, pall = all)
        {
            Gemm.Multiply(maxRows, n, k, MatrixView.RowMajor(pa, k), MatrixView.Transposed(pw, k), pall, n, false, GemmPath.RowInvariant);
            for (int m = 1; m < maxRows; m++)
            {
                for (int offset = 0; offset + m <= maxRows; offset += Math.Max(1, maxRows - m))
                {
                    float[] part = new float[m * n];
                    fixed (float* pp = part)
                    {
                        Gemm.Multiply(m, n, k, MatrixView.RowMajor(pa + offset * k, k), MatrixView.Transposed(pw, k), pp, n, false, GemmPath.RowInvariant);
                    }
                    Assert.Equal(all.AsSpan(offset * n, m * n).ToArray(), part);
                }
            }
        }
    }

    [Fact]
    public void ZeroDepthClearsOrKeeps()
    {
        float[] c = [1, 2, 3, 4];
        fixed (float* pc = c)
        {
            Gemm.Multiply(2, 2, 0, default, default, pc, 2, accumulate: true);
            Assert.Equal([1f, 2, 3, 4], c);
            Gemm.Multiply(2, 2, 0, default, default, pc, 2, accumulate: false);
            Assert.Equal([0f, 0, 0, 0], c);
        }
    }

    private static void Check(int m, int n, int k, Layout layout, bool accumulate, GemmPath path, int ldcPadding)
    {
        Rng rng = new((ulong)(m * 1_000_003 + n * 1009 + k));
        float[] a = TestArrays.Uniform(rng, m * k);
        float[] b = TestArrays.Uniform(rng, k * n);
        int ldc = n + ldcPadding;
        float[] c = TestArrays.Uniform(rng, m * ldc);
        float[] expected = (float[])c.Clone();
        (int ars, int acs) = layout is Layout.NN or Layout.NT ? (k, 1) : (1, m);
        (int brs, int bcs) = layout is Layout.NN or Layout.TN ? (n, 1) : (1, k);
        ReferenceGemm.Multiply(m, n, k, a, ars, acs, b, brs, bcs, expected, ldc, accumulate);
        fixed (float* pa = a, pb = b, pc = c)
        {
            Gemm.Multiply(m, n, k, new MatrixView(pa, ars, acs), new MatrixView(pb, brs, bcs), pc, ldc, accumulate, path);
        }
        NumericAssert.CloseRelativeToScale(expected, c, Tolerance, $"GEMM {m}x{n}x{k} {layout} acc={accumulate} {path}");
    }
}
