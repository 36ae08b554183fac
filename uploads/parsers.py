"""Request parsers: multipart for ``POST /api/upload`` (streamed to disk, hashed,
limited) and JSON that refuses, rather than crashes on, absurd nesting.

Django's parser hands each file to :class:`CsvUploadHandler` in 64 KiB chunks;
the handler writes them to a temporary file and hashes them as they pass, so
no file is ever held in memory whatever its size. Limits are enforced while
streaming: a request whose Content-Length exceeds what ``UPLOADS_MAX_FILES``
files of ``UPLOADS_MAX_FILE_SIZE`` bytes can need is refused before its body
is read; a file that grows past the limit, and any file past the count, is
skipped (its bytes are read and dropped, so the client still gets a clean
413 rather than a reset connection) and the request is refused once the
body has been read. Parts in fields other than ``files`` are dropped.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework.exceptions import ParseError
from rest_framework.parsers import DataAndFiles, JSONParser, MultiPartParser

from uploads.conf import conf
from uploads.errors import ApiError

FIELD = "files"
#: Allowance per file for multipart headers and boundaries in the early check.
PART_OVERHEAD = 64 * 1024


class HashedUploadedFile(TemporaryUploadedFile):
    """A spooled upload with its SHA-256, computed while it was received."""

    sha256: str = ""


class CsvUploadHandler(FileUploadHandler):
    chunk_size = 64 * 1024

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.max_size = conf.MAX_FILE_SIZE
        self.max_files = conf.MAX_FILES
        self.seen = 0
        self.too_large: list[str] = []
        self.too_many = False
        self._hash = hashlib.sha256()
        self._size = 0

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: str,
        encoding: str | None = None,
    ) -> None:
        limit = self.max_files * (self.max_size + PART_OVERHEAD) + PART_OVERHEAD
        if content_length > limit:
            raise ApiError(
                "file_too_large",
                f"The request body is {content_length} bytes; at most {limit} are "
                f"accepted ({self.max_files} files of {self.max_size} bytes).",
            )

    def _skip(self) -> None:
        # Django's parser closes every handler's ``file`` on SkipFile: forget
        # the previous (complete, kept) file so that it is not closed.
        self.__dict__.pop("file", None)
        raise SkipFile

    def new_file(
        self,
        field_name: str,
        file_name: str,
        content_type: str,
        content_length: int | None,
        charset: str | None = None,
        content_type_extra: dict[str, bytes] | None = None,
    ) -> None:
        if field_name != FIELD:
            self._skip()
        self.seen += 1
        if self.seen > self.max_files:
            self.too_many = True
        elif content_length is not None and content_length > self.max_size:
            self.too_large.append(file_name)
        if self.too_many or self.too_large:
            self._skip()  # the request is refused: read the rest and drop it
        super().new_file(
            field_name,
            file_name,
            content_type,
            content_length,
            charset,
            content_type_extra,
        )
        self.file = HashedUploadedFile(
            file_name, content_type, 0, charset, content_type_extra
        )
        self._hash = hashlib.sha256()
        self._size = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self._size += len(raw_data)
        if self._size > self.max_size:
            self.too_large.append(str(self.file_name))
            raise SkipFile  # closes (and so deletes) the partial temporary file
        self._hash.update(raw_data)
        self.file.write(raw_data)

    def file_complete(self, file_size: int) -> HashedUploadedFile:
        file = self.file
        assert isinstance(file, HashedUploadedFile)
        file.seek(0)
        file.size = file_size
        file.sha256 = self._hash.hexdigest()
        return file

    def upload_interrupted(self) -> None:
        file = self.__dict__.get("file")
        if isinstance(file, HashedUploadedFile):
            with contextlib.suppress(FileNotFoundError):
                path = file.temporary_file_path()
                file.close()
                os.remove(path)

    def refusal(self) -> ApiError | None:
        if self.too_large:
            return ApiError(
                "file_too_large",
                f"{self.too_large[0]!r} is larger than {self.max_size} bytes "
                "(UPLOADS_MAX_FILE_SIZE).",
            )
        if self.too_many:
            return ApiError(
                "too_many_files",
                f"{self.seen} files sent; at most {self.max_files} are accepted "
                "(UPLOADS_MAX_FILES).",
            )
        return None


class UploadParser(MultiPartParser):
    """DRF's multipart parser with :class:`CsvUploadHandler` as the only handler."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> DataAndFiles:
        context = parser_context or {}
        request = context["request"]
        encoding = context.get("encoding", settings.DEFAULT_CHARSET)
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        handler = CsvUploadHandler(request)
        try:
            parser = DjangoMultiPartParser(meta, stream, [handler], encoding)
            data, files = parser.parse()
        except MultiPartParserError as exc:
            raise ParseError(f"Multipart form parse error - {exc}") from exc
        refusal = handler.refusal()
        if refusal is not None:
            for _, items in files.lists():
                for item in items:
                    item.close()  # deletes the temporary file
            raise refusal
        return DataAndFiles(data, files)


class JsonParser(JSONParser):
    """DRF's JSON parser; a body nested too deeply for Python's parser is a
    malformed request (400), not a crash."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
