using SharpGpt.Tensors.Random;

namespace SharpGpt.TestSupport;

/// <summary>Seeded random test inputs.</summary>
public static class TestArrays
{
    public static float[] Uniform(Rng rng, int length, float scale = 1f)
    {
        float[] values = new float[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = (rng.NextSingle() * 2f - 1f) * scale;
        }
        return values;
    }

    public static int[] Integers(Rng rng, int length, int maxExclusive)
    {
        int[] values = new int[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = rng.NextInt(maxExclusive);
        }
        return values;
    }

    public static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += (double)a[i] * b[i];
        }
        return sum;
    }
}
