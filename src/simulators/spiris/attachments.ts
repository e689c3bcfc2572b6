import { randomUUID } from 'node:crypto';
import {
  ApiError,
  ErrorCodes,
  type FieldError,
  fieldError,
  isGuid,
  utcMillis,
  validationError,
} from './http-util.ts';
import type { Company, StoredAttachment, StoredVoucher } from './model.ts';

export const ALLOWED_CONTENT_TYPES = new Set(['image/jpeg', 'image/png', 'image/tiff', 'application/pdf']);
/** Per-file limit for Swedish companies; also the cap for all files on one document. */
export const MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024;
// Documented as "letters, numbers and - _ ()"; a single trailing extension is accepted as well,
// since every example upload carries one.
const FILE_NAME = /^[\p{L}\p{N}\-_()]+(\.[A-Za-z0-9]{1,10})?$/u;
// A plain character class, not a repeated group: the latter overflows the regex stack on 20 MB inputs.
const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;

function isBase64(text: string): boolean {
  return text.length % 4 === 0 && BASE64_CHARS.test(text);
}

export const DOCUMENT_TYPE_VOUCHER = 3;

export function attachmentApi(a: StoredAttachment, temporaryUrl: string | null): Record<string, unknown> {
  return {
    Id: a.id,
    ContentType: a.contentType,
    DocumentId: a.documentId,
    AttachedDocumentType: a.documentType,
    MessageThreads: [],
    Notes: [],
    PhotoSource: 105,
    FileName: a.fileName,
    TemporaryUrl: temporaryUrl,
    Comment: a.comment,
    SupplierName: null,
    CurrencyCode: null,
    AmountInvoiceCurrency: 0,
    Type: 2,
    AttachmentStatus: a.documentId ? 0 : 1,
    UploadedBy: 'Simulator User',
    ImageDate: a.uploadedUtc,
    TransactionDate: null,
    Ocr: null,
    InvoiceNumber: null,
    Vat: null,
    DueDate: null,
    SupplierCorporateIdentityNumber: null,
    PaymentDate: null,
  };
}

export function uploadAttachment(
  company: Company,
  body: Record<string, unknown>,
  nowMs: number,
): StoredAttachment {
  const errors: FieldError[] = [];
  const { ContentType, FileName, Data, Url, Comment } = body;

  if (typeof ContentType !== 'string' || ContentType === '') {
    errors.push(fieldError('ContentType', 'The ContentType field is required.'));
  } else if (ContentType.length > 15) {
    errors.push(
      fieldError('ContentType', 'The field ContentType must be a string with a maximum length of 15.'),
    );
  } else if (!ALLOWED_CONTENT_TYPES.has(ContentType)) {
    errors.push(
      fieldError(
        'ContentType',
        `Content type '${ContentType}' is not allowed. Allowed values: image/jpeg, image/png, image/tiff, application/pdf.`,
      ),
    );
  }

  if (typeof FileName !== 'string' || FileName === '') {
    errors.push(fieldError('FileName', 'The FileName field is required.'));
  } else if (FileName.length > 200) {
    errors.push(fieldError('FileName', 'The field FileName must be a string with a maximum length of 200.'));
  } else if (!FILE_NAME.test(FileName)) {
    errors.push(
      fieldError(
        'FileName',
        'FileName contains invalid characters. Allowed are letters, numbers and - _ ().',
      ),
    );
  }

  if (Comment !== undefined && Comment !== null && typeof Comment !== 'string') {
    errors.push(fieldError('Comment', 'Comment must be a string.'));
  }

  let data: Buffer | undefined;
  if (Data !== undefined && Data !== null) {
    if (typeof Data !== 'string' || !isBase64(Data.replace(/\s+/g, ''))) {
      errors.push(fieldError('Data', 'Data must be a base64 encoded byte array.'));
    } else {
      data = Buffer.from(Data, 'base64');
      if (data.length === 0) errors.push(fieldError('Data', 'The file is empty.'));
      else if (data.length > MAX_ATTACHMENT_BYTES) {
        errors.push(fieldError('Data', 'The file exceeds the maximum allowed size of 20 MB.'));
      }
    }
  } else if (typeof Url === 'string' && Url !== '') {
    errors.push(fieldError('Url', 'The simulator does not fetch attachments from a URL; send Data instead.'));
  } else {
    errors.push(fieldError('Data', 'Either Data or Url must be provided.'));
  }

  if (errors.length > 0) throw validationError(errors);

  const attachment: StoredAttachment = {
    id: randomUUID(),
    contentType: ContentType as string,
    fileName: FileName as string,
    comment: typeof Comment === 'string' ? Comment : null,
    data: data!,
    uploadedUtc: utcMillis(nowMs),
    documentId: null,
    documentType: 0,
  };
  company.attachments.set(attachment.id, attachment);
  return attachment;
}

/** Checks that every id can be linked to the voucher; throws the API error otherwise. */
export function checkLinkable(company: Company, voucherId: string | null, ids: string[]): StoredAttachment[] {
  const found: StoredAttachment[] = [];
  for (const id of ids) {
    const a = company.attachments.get(id.toLowerCase());
    if (!a) throw new ApiError(400, ErrorCodes.ItemToAttachNotFound, `Attachment ${id} was not found.`);
    if (a.documentId && a.documentId !== voucherId) {
      throw new ApiError(400, ErrorCodes.Conflict, `Attachment ${id} is already linked to another document.`);
    }
    found.push(a);
  }
  const already = voucherId
    ? [...company.attachments.values()].filter((a) => a.documentId === voucherId && !found.includes(a))
    : [];
  const total = [...found, ...already].reduce((sum, a) => sum + a.data.length, 0);
  if (total > MAX_ATTACHMENT_BYTES) {
    throw new ApiError(
      400,
      ErrorCodes.DataModelValidationError,
      'The total size of all attachments on a document cannot exceed 20 MB.',
    );
  }
  return found;
}

export function linkToVoucher(voucher: StoredVoucher, attachments: StoredAttachment[], nowMs: number): void {
  for (const a of attachments) {
    a.documentId = voucher.api.Id;
    a.documentType = DOCUMENT_TYPE_VOUCHER;
    if (!voucher.api.Attachments.AttachmentIds.includes(a.id))
      voucher.api.Attachments.AttachmentIds.push(a.id);
  }
  if (attachments.length > 0) voucher.api.ModifiedUtc = utcMillis(nowMs);
}

export function parseAttachmentIds(value: unknown, field: string): string[] {
  if (!Array.isArray(value)) throw validationError([fieldError(field, `The ${field} field is required.`)]);
  const bad = value.findIndex((v) => !isGuid(v));
  if (bad >= 0) throw validationError([fieldError(`${field}[${bad}]`, 'The value is not a valid GUID.')]);
  return value.map((v) => (v as string).toLowerCase());
}

/** POST /v2/attachmentlinks */
export function createAttachmentLink(
  company: Company,
  body: Record<string, unknown>,
  nowMs: number,
): Record<string, unknown> {
  const errors: FieldError[] = [];
  if (!Number.isInteger(body.DocumentType))
    errors.push(fieldError('DocumentType', 'The DocumentType field is required.'));
  if (!isGuid(body.DocumentId)) errors.push(fieldError('DocumentId', 'DocumentId must be a valid GUID.'));
  if (errors.length > 0) throw validationError(errors);
  const ids = parseAttachmentIds(body.AttachmentIds, 'AttachmentIds');
  if (ids.length === 0)
    throw validationError([fieldError('AttachmentIds', 'At least one attachment id is required.')]);
  const documentId = (body.DocumentId as string).toLowerCase();
  if (body.DocumentType !== DOCUMENT_TYPE_VOUCHER) {
    throw new ApiError(
      400,
      ErrorCodes.ResourceNotFound,
      `No document of type ${body.DocumentType} with id ${documentId}.`,
    );
  }
  const voucher = company.vouchers.find((v) => v.api.Id === documentId);
  if (!voucher) throw new ApiError(400, ErrorCodes.ResourceNotFound, `Voucher ${documentId} was not found.`);
  linkToVoucher(voucher, checkLinkable(company, documentId, ids), nowMs);
  return { DocumentId: documentId, DocumentType: DOCUMENT_TYPE_VOUCHER, AttachmentIds: ids };
}

/** DELETE /v2/attachmentlinks/{attachmentId} */
export function deleteAttachmentLink(company: Company, attachmentId: string, nowMs: number): void {
  const a = company.attachments.get(attachmentId.toLowerCase());
  if (!a) throw new ApiError(404, ErrorCodes.ResourceNotFound, `Attachment ${attachmentId} was not found.`);
  if (!a.documentId) return;
  const voucher = company.vouchers.find((v) => v.api.Id === a.documentId);
  if (voucher) {
    voucher.api.Attachments.AttachmentIds = voucher.api.Attachments.AttachmentIds.filter((id) => id !== a.id);
    voucher.api.ModifiedUtc = utcMillis(nowMs);
  }
  a.documentId = null;
  a.documentType = 0;
}
