namespace SharpGpt.TestSupport;

/// <summary>Locates tests/TestData (golden files copied from references no one here wrote; see its README).</summary>
public static class TestData
{
    private static readonly Lazy<string> Root = new(FindRoot);

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root.Value, .. parts]);

    /// <summary>The repository root (the folder holding SharpGpt.slnx).</summary>
    public static string RepositoryRoot => System.IO.Path.GetFullPath(System.IO.Path.Combine(Root.Value, "..", ".."));

    private static string FindRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string candidate = System.IO.Path.Combine(dir.FullName, "tests", "TestData");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new DirectoryNotFoundException($"tests/TestData not found above {AppContext.BaseDirectory}.");
    }
}
