namespace SharpGpt.Training.Data;

/// <summary>One document of a corpus and where it came from (file and line or row), for error messages.</summary>
public readonly record struct SourceDocument(string Text, string File, long Line);
