namespace Pb;

/// <summary>
/// Marks a method of a <see cref="Referenceable"/> as callable by the peer (Twisted's <c>remote_</c> prefix). Only
/// marked methods can be called. The wire name is the C# name in camelCase with any <c>Async</c> suffix removed
/// (<c>AddOneAsync</c> is <c>addOne</c>), or the name given here, so Python-style names work:
/// <c>[Remote("add_one")]</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class RemoteAttribute : Attribute
{
    /// <summary>Marks the method under its default wire name.</summary>
    public RemoteAttribute() { }

    /// <summary>Marks the method under the wire name <paramref name="name"/>.</summary>
    public RemoteAttribute(string name) => Name = name;

    /// <summary>The wire name, or null for the default.</summary>
    public string? Name { get; }
}
