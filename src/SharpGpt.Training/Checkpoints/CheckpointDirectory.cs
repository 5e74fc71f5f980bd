using SharpGpt.Model;
using SharpGpt.Model.Checkpoints;

namespace SharpGpt.Training.Checkpoints;

/// <summary>
/// A folder of training checkpoints, one sub-folder per step ("step-000100"). A checkpoint is written into a
/// hidden temporary folder, every file flushed to disk, then renamed into place in one step; only then does the
/// "latest" pointer file move to it (itself replaced atomically). A crash at any moment therefore leaves the
/// previous checkpoint and pointer intact. The last K checkpoints are kept, plus the one named by "best".
/// </summary>
public sealed class CheckpointDirectory
{
    public const string LatestFile = "latest";
    public const string BestFile = "best";
    private const string TemporaryPrefix = ".tmp-";

    public CheckpointDirectory(string root, int keepLast = 3)
    {
        Root = root;
        KeepLast = Math.Max(1, keepLast);
    }

    public string Root { get; }

    public int KeepLast { get; }

    public static string NameOf(int step) => $"step-{step:D7}";

    /// <summary>Path of the latest complete checkpoint, or null if there is none.</summary>
    public string? Latest => Pointer(LatestFile);

    /// <summary>Path of the checkpoint with the best validation loss, or null.</summary>
    public string? Best => Pointer(BestFile);

    private string? Pointer(string file)
    {
        string path = Path.Combine(Root, file);
        if (!File.Exists(path))
        {
            return null;
        }
        string name = File.ReadAllText(path).Trim();
        if (name != Path.GetFileName(name) || name.Length == 0)
        {
            throw new SharpGptException($"{path}: invalid checkpoint name '{name}'.");
        }
        string directory = Path.Combine(Root, name);
        if (!Directory.Exists(directory))
        {
            throw new SharpGptException($"{path} names {name}, which does not exist.");
        }
        return directory;
    }

    /// <summary>
    /// Writes a checkpoint for <paramref name="step"/>: <paramref name="write"/> fills a temporary folder,
    /// which then becomes the step's folder and the latest checkpoint. Returns its path.
    /// </summary>
    public string Save(int step, Action<string> write, bool isBest = false)
    {
        string temporary = Begin(step);
        try
        {
            write(temporary);
        }
        catch (Exception ex)
        {
            Abandon(temporary);
            if (ex is IOException io && (io.HResult & 0xFFFF) is 28 or 112)
            {
                throw new CheckpointException($"{Root}: the disk is full; the checkpoint of step {step} was not written and the previous one is intact.", ex);
            }
            throw;
        }
        return Commit(step, temporary, isBest);
    }

    /// <summary>Creates the hidden folder a checkpoint is written into (with several ranks, each writes its part).</summary>
    public string Begin(int step)
    {
        Directory.CreateDirectory(Root);
        RemoveTemporaryFolders();
        string temporary = Path.Combine(Root, $"{TemporaryPrefix}{NameOf(step)}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temporary);
        return temporary;
    }

    public static void Abandon(string temporary) => TryDelete(temporary);

    /// <summary>Makes a fully written temporary folder the step's checkpoint and the latest (and maybe best) one.</summary>
    public string Commit(int step, string temporary, bool isBest)
    {
        string name = NameOf(step);
        string final = Path.Combine(Root, name);
        if (Directory.Exists(final))
        {
            // Re-saving a step (e.g. after resuming): move the old copy aside first, then swap.
            string old = Path.Combine(Root, $"{TemporaryPrefix}old-{name}-{Guid.NewGuid():N}");
            Directory.Move(final, old);
            Directory.Move(temporary, final);
            TryDelete(old);
        }
        else
        {
            Directory.Move(temporary, final);
        }
        AtomicFile.WriteAllText(Path.Combine(Root, LatestFile), name);
        if (isBest)
        {
            AtomicFile.WriteAllText(Path.Combine(Root, BestFile), name);
        }
        Rotate();
        return final;
    }

    /// <summary>Deletes all but the newest K step folders, never the latest or the best.</summary>
    private void Rotate()
    {
        string? latest = Latest, best = Best;
        var steps = Directory.GetDirectories(Root, "step-*").Order(StringComparer.Ordinal).ToList();
        foreach (string directory in steps.Take(Math.Max(0, steps.Count - KeepLast)))
        {
            if (directory != latest && directory != best)
            {
                TryDelete(directory);
            }
        }
    }

    private void RemoveTemporaryFolders()
    {
        foreach (string directory in Directory.GetDirectories(Root, TemporaryPrefix + "*"))
        {
            TryDelete(directory);
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
