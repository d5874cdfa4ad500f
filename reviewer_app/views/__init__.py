"""View-model functions of the reviewer app: the logic the pages call, tested without a browser.

Imported as ``views``: ``streamlit run reviewer_app/Home.py`` puts ``reviewer_app/`` on
``sys.path``. Only ``views.ui`` imports Streamlit.
"""
