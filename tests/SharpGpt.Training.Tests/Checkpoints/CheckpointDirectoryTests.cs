using SharpGpt.Training.Checkpoints;
using Xunit;

namespace SharpGpt.Training.Tests.Checkpoints;

public sealed class CheckpointDirectoryTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sharpgpt-ckpt").FullName;

    public void Dispose() => Directory.Delete(_root, true);

    private static void WriteFiles(string directory, string content)
    {
        File.WriteAllText(Path.Combine(directory, "a.bin"), content);
        File.WriteAllText(Path.Combine(directory, "b.bin"), content);
    }

    [Fact]
    public void ACrashWhileWritingLeavesThePreviousCheckpointIntact()
    {
        var checkpoints = new CheckpointDirectory(_root);
        string first = checkpoints.Save(10, d => WriteFiles(d, "step 10"));
        // The next save dies half way (after one file), as a kill or a full disk would.
        Assert.Throws<IOException>(() => checkpoints.Save(20, d =>
        {
            File.WriteAllText(Path.Combine(d, "a.bin"), "step 20");
            throw new IOException("simulated crash");
        }));
        Assert.Equal(first, checkpoints.Latest);
        Assert.Equal("step 10", File.ReadAllText(Path.Combine(checkpoints.Latest!, "b.bin")));
        Assert.False(Directory.Exists(Path.Combine(_root, CheckpointDirectory.NameOf(20))));
        // A process killed outright leaves a temporary folder; the next save clears it and proceeds.
        Directory.CreateDirectory(Path.Combine(_root, ".tmp-step-0000030-dead"));
        checkpoints.Save(30, d => WriteFiles(d, "step 30"));
        Assert.Empty(Directory.GetDirectories(_root, ".tmp-*"));
        Assert.EndsWith(CheckpointDirectory.NameOf(30), checkpoints.Latest);
    }

    [Fact]
    public void KeepsTheLastKPlusTheBest()
    {
        var checkpoints = new CheckpointDirectory(_root, keepLast: 2);
        checkpoints.Save(1, d => WriteFiles(d, "1"));
        checkpoints.Save(2, d => WriteFiles(d, "2"), isBest: true);
        for (int step = 3; step <= 6; step++)
        {
            checkpoints.Save(step, d => WriteFiles(d, step.ToString()));
        }
        string[] kept = Directory.GetDirectories(_root, "step-*").Select(Path.GetFileName).Order().ToArray()!;
        Assert.Equal([CheckpointDirectory.NameOf(2), CheckpointDirectory.NameOf(5), CheckpointDirectory.NameOf(6)], kept);
        Assert.EndsWith(CheckpointDirectory.NameOf(2), checkpoints.Best);
    }

    [Fact]
    public void ResavingAStepReplacesItAtomically()
    {
        var checkpoints = new CheckpointDirectory(_root);
        checkpoints.Save(5, d => WriteFiles(d, "old"));
        checkpoints.Save(5, d => WriteFiles(d, "new"));
        Assert.Equal("new", File.ReadAllText(Path.Combine(checkpoints.Latest!, "a.bin")));
        Assert.Single(Directory.GetDirectories(_root));
    }
}
