namespace SharpGpt.Model.Checkpoints;

/// <summary>
/// Writes a file so that readers see either the old content or the complete new content, never a torn file:
/// write to a temporary file in the same folder, flush it to disk, then rename it over the target.
/// A crash or a full disk leaves the previous file intact and at most a stray ".tmp" file behind.
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, Action<FileStream> write)
    {
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath)!;
        Directory.CreateDirectory(directory);
        string temporary = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (FileStream stream = new(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch (Exception ex)
        {
            TryDelete(temporary);
            if (ex is IOException io && (io.HResult & 0xFFFF) is 28 or 112)
            {
                throw new CheckpointException($"{fullPath}: the disk is full; the previous file, if any, is unchanged.", ex);
            }
            throw;
        }
    }

    public static void WriteAllText(string path, string text) =>
        Write(path, stream =>
        {
            using StreamWriter writer = new(stream, new System.Text.UTF8Encoding(false), leaveOpen: true);
            writer.Write(text);
        });

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
