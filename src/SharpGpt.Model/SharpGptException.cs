namespace SharpGpt.Model;

/// <summary>
/// An error caused by input the user can fix (a bad file, an unknown preset, an invalid option).
/// The command line prints its message on one line instead of a stack trace.
/// </summary>
public class SharpGptException : Exception
{
    public SharpGptException(string message) : base(message) { }

    public SharpGptException(string message, Exception inner) : base(message, inner) { }
}
