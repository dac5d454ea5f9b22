namespace Pb;

/// <summary>
/// Sets the name a member travels under on the wire: a Copyable's state key, or (with the broker) a remote
/// method's name. Without it the C# name is used in camelCase (<c>Label</c> becomes <c>label</c>), so
/// Python-style names such as <c>add_one</c> need this attribute.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field | AttributeTargets.Method, AllowMultiple = false)]
public sealed class PbNameAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    public PbNameAttribute(string name) => Name = name;

    /// <summary>The wire name.</summary>
    public string Name { get; }
}
