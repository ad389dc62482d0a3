"""The course helpers: a gradebook made without nbgrader's `alembic heads` subprocess is
the gradebook nbgrader makes."""

import sqlalchemy
from nbgrader.api import Gradebook, get_alembic_version

from autograder.course import COURSE_ID, create_gradebook, prefer_this_environment


def tables_and_version(db_url):
    engine = sqlalchemy.create_engine(db_url)
    with engine.connect() as connection:
        tables = set(sqlalchemy.inspect(connection).get_table_names())
        version = connection.execute(sqlalchemy.text("SELECT version_num FROM alembic_version")).scalar_one()
    engine.dispose()
    return tables, version


def test_create_gradebook_makes_what_nbgrader_makes(tmp_path):
    prefer_this_environment()  # nbgrader's own way runs `alembic` from PATH
    ours, theirs = f"sqlite:///{tmp_path / 'ours.db'}", f"sqlite:///{tmp_path / 'theirs.db'}"
    create_gradebook(ours)
    with Gradebook(theirs, COURSE_ID):
        pass
    assert tables_and_version(ours) == tables_and_version(theirs)
    assert tables_and_version(ours)[1] == get_alembic_version()
    with Gradebook(ours, COURSE_ID) as gb:  # nbgrader accepts it as its own
        gb.add_student("s1")
        assert [s.id for s in gb.students] == ["s1"]


def test_create_gradebook_leaves_an_existing_one_alone(tmp_path):
    url = f"sqlite:///{tmp_path / 'gb.db'}"
    with Gradebook(url, COURSE_ID) as gb:
        gb.add_student("kept")
    create_gradebook(url)
    with Gradebook(url, COURSE_ID) as gb:
        assert [s.id for s in gb.students] == ["kept"]


def courses(db_url):
    engine = sqlalchemy.create_engine(db_url)
    with engine.connect() as connection:
        found = sorted(connection.execute(sqlalchemy.text("SELECT id FROM course")).scalars())
    engine.dispose()
    return found


def test_create_gradebook_adds_the_course_row_under_its_lock(tmp_path):
    """nbgrader's Gradebook adds the course's row when it is missing: two runs opening their
    first Gradebook at once on a new gradebook both added it, and one failed (CI, PostgreSQL:
    'duplicate key value violates unique constraint course_pkey'). create_gradebook adds it,
    under the writer lock, to a new gradebook and to one made without it."""
    new = f"sqlite:///{tmp_path / 'new.db'}"
    create_gradebook(new)
    assert courses(new) == [COURSE_ID]
    older = f"sqlite:///{tmp_path / 'older.db'}"
    create_gradebook(older)
    engine = sqlalchemy.create_engine(older)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("DELETE FROM course"))
    engine.dispose()
    create_gradebook(older)
    create_gradebook(older)  # and once only
    assert courses(older) == [COURSE_ID]
