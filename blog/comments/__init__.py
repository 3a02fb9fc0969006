"""The reader's side of comments: the form under each post and what happens when it is sent.

The post page's URL takes the form's POST (INTERFACE.md: ``<form id="commentform"
method="post">``), so these functions are called from ``blog.posts.views``.
"""
