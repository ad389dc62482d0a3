"""nbgrader preprocessors we configure in place of nbgrader's own, one fix each."""

from nbgrader.preprocessors import DeduplicateIds


class DropDuplicateIds(DeduplicateIds):
    """Like nbgrader's DeduplicateIds (the last cell with a grade_id keeps it), but the
    earlier copies lose their nbgrader metadata entirely. nbgrader sets it to {} instead,
    which its schema check then rejects as "an old version of the metadata format",
    aborting the whole student (and, in a plain `nbgrader autograde`, the batch)."""

    def preprocess_cell(self, cell, resources, cell_index):
        meta = cell.metadata.get("nbgrader")
        if not meta or not (meta.get("grade") or meta.get("solution") or meta.get("locked")):
            return cell, resources
        if meta.get("grade_id") in self.grade_ids:
            self.log.warning("Cell with id '%s' exists multiple times: keeping the last one", meta.get("grade_id"))
            del cell.metadata["nbgrader"]
        else:
            self.grade_ids.add(meta.get("grade_id"))
        return cell, resources
