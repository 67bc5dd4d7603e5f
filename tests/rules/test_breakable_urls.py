"""The `breakable` template filter: URLs may wrap after "/" (and before "?&#="), never inside
the scheme, a hyphenated word or an identifier; text is escaped."""

from __future__ import annotations

import pytest

from oauth.urls import breakable


@pytest.mark.parametrize(
    ("value", "html"),
    [
        ("https://a.example/b/c", '<span class="nobr">https://a.example/</span><wbr>b/<wbr>c'),
        (
            "https://a.example/p?x=1",
            '<span class="nobr">https://a.example/</span><wbr>p<wbr>?x<wbr>=1',
        ),
        ("/p?x=1&y=2", "/<wbr>p<wbr>?x<wbr>=1<wbr>&amp;y<wbr>=2"),
        ("https://my-api.example/mcp", '<span class="nobr">https://my-api.example/</span><wbr>mcp'),
        ("com.my-app:/cb", '<span class="nobr">com.my-app:/</span><wbr>cb'),
        ("a-b/c-d", '<span class="nobr">a-b/</span><wbr><span class="nobr">c-d</span>'),
        ("authorization_code", "authorization_code"),
        ("0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
        ('<script>"/x', "&lt;script&gt;&#34;/<wbr>x"),
        (None, ""),
    ],
)
def test_wrap_points(value, html):
    assert str(breakable(value)) == html
