using Xunit;

namespace SharpGpt.TestSupport;

/// <summary>Assertions over float arrays that report where and by how much they differ.</summary>
public static class NumericAssert
{
    /// <summary>
    /// Every |expected − actual| ≤ absolute + relative·|expected|. On failure, names the worst element.
    /// </summary>
    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double absolute, double relative = 0, string what = "values")
    {
        Assert.True(expected.Length == actual.Length, $"{what}: length {actual.Length}, expected {expected.Length}");
        int worst = -1;
        double worstExcess = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs((double)expected[i] - actual[i]);
            double allowed = absolute + relative * Math.Abs(expected[i]);
            if (double.IsNaN(actual[i]) != double.IsNaN(expected[i]) || diff > allowed)
            {
                double excess = double.IsNaN(diff) ? double.PositiveInfinity : diff - allowed;
                if (worst < 0 || excess > worstExcess)
                {
                    worst = i;
                    worstExcess = excess;
                }
            }
        }
        Assert.True(worst < 0, worst < 0 ? "" :
            $"{what}: element {worst} is {actual[worst]:G9}, expected {expected[worst]:G9} (|diff| {Math.Abs((double)expected[worst] - actual[worst]):G3} > abs {absolute:G3} + rel {relative:G3})");
    }

    /// <summary>max|expected − actual| ≤ tolerance · max(1, max|expected|): error relative to the tensor's scale.</summary>
    public static void CloseRelativeToScale(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tolerance, string what = "values")
    {
        double scale = 1;
        foreach (float e in expected)
        {
            scale = Math.Max(scale, Math.Abs(e));
        }
        Close(expected, actual, tolerance * scale, 0, what);
    }

    /// <summary>|a − b| ≤ tolerance · max(|a|, |b|, floor).</summary>
    public static void RelativelyClose(double expected, double actual, double tolerance, double floor = 1e-6, string what = "value")
    {
        double scale = Math.Max(Math.Max(Math.Abs(expected), Math.Abs(actual)), floor);
        Assert.True(Math.Abs(expected - actual) <= tolerance * scale,
            $"{what}: {actual:G9}, expected {expected:G9} (relative diff {Math.Abs(expected - actual) / scale:G3} > {tolerance:G3})");
    }
}
