namespace SharpGpt.Model.Checkpoints;

/// <summary>A checkpoint file or folder that cannot be used; the message names the file and, where known, the tensor.</summary>
public sealed class CheckpointException : SharpGptException
{
    public CheckpointException(string message) : base(message) { }

    public CheckpointException(string message, Exception inner) : base(message, inner) { }
}
