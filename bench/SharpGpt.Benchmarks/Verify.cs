namespace SharpGpt.Benchmarks;

/// <summary>Stops a benchmark whose kernel disagrees with its reference twin: a fast wrong kernel is worth nothing.</summary>
internal static class Verify
{
    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tolerance, string what)
    {
        double scale = 1;
        foreach (float e in expected)
        {
            scale = Math.Max(scale, Math.Abs(e));
        }
        for (int i = 0; i < expected.Length; i++)
        {
            if (!(Math.Abs(expected[i] - actual[i]) <= tolerance * scale))
            {
                throw new InvalidOperationException($"{what}: element {i} is {actual[i]}, the reference says {expected[i]}.");
            }
        }
    }

    public static float[] Random(int length, int seed)
    {
        var rng = new Tensors.Random.Rng((ulong)seed);
        return Enumerable.Range(0, length).Select(_ => rng.NextSingle() * 2 - 1).ToArray();
    }
}
