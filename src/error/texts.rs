//! The text of every stable code the service sends, in English and in Vietnamese.
//!
//! Clients branch on `code`, never on `detail`, so each code is part of the API and its
//! wording belongs in one place rather than scattered over the call sites that raise it.
//! Kept as a plain table, sorted by code, the texts can be looked up by binary search,
//! listed in the API documentation, checked by a test against the codes the handlers
//! actually construct, and reviewed by a Vietnamese reader in one sitting. The site that
//! raises a problem still writes its own specific `detail`; the sentences here are the
//! fallback when it gave none in the reader's language, and the reference in the docs.

/// A problem `code` (the RFC 9457 problem document's `code` member).
pub struct ProblemText {
    pub code: &'static str,
    /// The HTTP status the code is sent with (the usual one, when several).
    pub status: u16,
    /// Short English title (sentence case, no full stop), e.g. "Report not found".
    pub title_en: &'static str,
    /// The same title in Vietnamese (with full diacritics, administrative register).
    pub title_vi: &'static str,
    /// One English sentence: what it means and what the client should do (used in docs and as the generic detail).
    pub meaning_en: &'static str,
    /// The same sentence in Vietnamese: used as `detail` when a Vietnamese reader gets this problem and the site gave no Vietnamese detail of its own.
    pub meaning_vi: &'static str,
}

/// A field-level issue `code` (an entry of a problem's `errors` list).
pub struct IssueText {
    pub code: &'static str,
    pub message_en: &'static str,
    pub message_vi: &'static str,
}

pub const PROBLEMS: &[ProblemText] = &[
    ProblemText {
        code: "account_disabled",
        status: 401,
        title_en: "Account disabled",
        title_vi: "Tài khoản đã bị vô hiệu hóa",
        meaning_en: "The account or service client has been deactivated or no longer exists; ask an administrator to reactivate it.",
        meaning_vi: "Tài khoản hoặc ứng dụng kết nối đã bị vô hiệu hóa hoặc không còn tồn tại; đề nghị liên hệ quản trị viên hệ thống để được kích hoạt lại.",
    },
    ProblemText {
        code: "already_exists",
        status: 409,
        title_en: "Record already exists",
        title_vi: "Dữ liệu đã tồn tại",
        meaning_en: "A record with the same value where duplicates are not allowed already exists; use another value or update the existing record.",
        meaning_vi: "Đã có dữ liệu mang cùng giá trị mà hệ thống không cho phép trùng lặp; đề nghị sử dụng giá trị khác hoặc cập nhật dữ liệu hiện có.",
    },
    ProblemText {
        code: "ambiguous_period_code",
        status: 409,
        title_en: "Period code matches several plans",
        title_vi: "Mã kỳ báo cáo trùng ở nhiều kế hoạch",
        meaning_en: "The period code names periods of more than one plan; add the plan (`plan=`) to say which one. The candidates are listed in `matches`.",
        meaning_vi: "Mã kỳ báo cáo có ở nhiều kế hoạch; đề nghị ghi rõ kế hoạch (`plan=`). Các kỳ phù hợp được liệt kê trong `matches`.",
    },
    ProblemText {
        code: "attachment_frozen",
        status: 409,
        title_en: "Attachment frozen with a revision",
        title_vi: "Tệp đính kèm đã được nộp",
        meaning_en: "The attachment was submitted with a revision of the report and is kept for good; it cannot be removed.",
        meaning_vi: "Tệp đính kèm đã được nộp cùng một lần nộp báo cáo và được lưu giữ lâu dài; không thể xóa.",
    },
    ProblemText {
        code: "bad_request",
        status: 400,
        title_en: "Bad request",
        title_vi: "Yêu cầu không hợp lệ",
        meaning_en: "The request could not be processed as sent; check it against the API documentation and send it again.",
        meaning_vi: "Hệ thống không xử lý được yêu cầu như đã gửi; đề nghị đối chiếu yêu cầu với tài liệu hướng dẫn API và gửi lại.",
    },
    ProblemText {
        code: "body_timeout",
        status: 408,
        title_en: "Request body timed out",
        title_vi: "Hết thời gian chờ nhận dữ liệu",
        meaning_en: "The request body did not arrive in full within the time allowed; check the network connection and send the request again.",
        meaning_vi: "Hệ thống không nhận đủ nội dung yêu cầu trong thời gian cho phép; đề nghị kiểm tra kết nối mạng và gửi lại yêu cầu.",
    },
    ProblemText {
        code: "body_too_large",
        status: 413,
        title_en: "Request body too large",
        title_vi: "Dung lượng dữ liệu vượt quá giới hạn",
        meaning_en: "The request body is larger than the service accepts; reduce the data and send it again.",
        meaning_vi: "Dung lượng nội dung yêu cầu vượt quá mức hệ thống cho phép; đề nghị giảm bớt dữ liệu rồi gửi lại.",
    },
    ProblemText {
        code: "client_revoked",
        status: 409,
        title_en: "Service client revoked",
        title_vi: "Ứng dụng kết nối đã bị thu hồi",
        meaning_en: "A revoked service client cannot be given a new secret; create a new service client instead.",
        meaning_vi: "Không thể cấp lại mã bí mật cho ứng dụng kết nối đã bị thu hồi; đề nghị tạo ứng dụng kết nối mới.",
    },
    ProblemText {
        code: "code_taken",
        status: 409,
        title_en: "Unit code already in use",
        title_vi: "Mã đơn vị đã được sử dụng",
        meaning_en: "Another unit already has this code; choose a different code.",
        meaning_vi: "Mã này đã được dùng cho đơn vị khác; đề nghị chọn mã khác.",
    },
    ProblemText {
        code: "concurrent_update",
        status: 409,
        title_en: "Concurrent update",
        title_vi: "Dữ liệu bị cập nhật đồng thời",
        meaning_en: "Another request changed the same data at the same moment; send the request again.",
        meaning_vi: "Dữ liệu vừa được một yêu cầu khác thay đổi cùng lúc; đề nghị gửi lại yêu cầu.",
    },
    ProblemText {
        code: "constraint_violated",
        status: 422,
        title_en: "Value not accepted",
        title_vi: "Giá trị không được chấp nhận",
        meaning_en: "A value lies outside what the database accepts; correct it and send the request again.",
        meaning_vi: "Có giá trị nằm ngoài phạm vi cơ sở dữ liệu cho phép; đề nghị sửa lại giá trị và gửi lại yêu cầu.",
    },
    ProblemText {
        code: "cycle",
        status: 409,
        title_en: "Unit cannot move into its own subtree",
        title_vi: "Không thể chuyển đơn vị vào nhánh trực thuộc của chính đơn vị đó",
        meaning_en: "A unit cannot be placed under itself or under one of the units below it; choose a parent unit outside its subtree.",
        meaning_vi: "Không thể đặt một đơn vị trực thuộc chính nó hoặc trực thuộc đơn vị cấp dưới của nó; đề nghị chọn đơn vị cấp trên nằm ngoài nhánh của đơn vị này.",
    },
    ProblemText {
        code: "data_element_codes_missing",
        status: 409,
        title_en: "No data element codes",
        title_vi: "Chưa có bảng mã chỉ tiêu",
        meaning_en: "The plan has no mapping of its fields to data element codes, which the ADX export needs; a coordinator sets it with PUT /api/v1/plans/{plan_id}/data-element-codes.",
        meaning_vi: "Kế hoạch chưa có bảng đối chiếu trường số liệu với mã chỉ tiêu, là điều kiện để xuất dữ liệu ADX; đề nghị cán bộ điều phối thiết lập bảng mã trước.",
    },
    ProblemText {
        code: "database_unavailable",
        status: 503,
        title_en: "Database unavailable",
        title_vi: "Cơ sở dữ liệu tạm thời không truy cập được",
        meaning_en: "The database is temporarily unreachable; retry after the number of seconds given in Retry-After.",
        meaning_vi: "Cơ sở dữ liệu tạm thời không kết nối được; đề nghị thử lại sau ít giây (theo tiêu đề Retry-After).",
    },
    ProblemText {
        code: "document_number_taken",
        status: 409,
        title_en: "Document number already in use",
        title_vi: "Số, ký hiệu văn bản đã được sử dụng",
        meaning_en: "The issuing unit already has a plan of that year with this document number; check the number against the signed document.",
        meaning_vi: "Đơn vị ban hành đã có kế hoạch cùng năm mang số, ký hiệu văn bản này; đề nghị đối chiếu lại với văn bản đã ký.",
    },
    ProblemText {
        code: "forbidden",
        status: 403,
        title_en: "Not permitted",
        title_vi: "Không có quyền thực hiện",
        meaning_en: "Your role does not allow this action; ask an administrator if you need it.",
        meaning_vi: "Vai trò của tài khoản không được phép thực hiện thao tác này; đề nghị liên hệ quản trị viên nếu cần được cấp quyền.",
    },
    ProblemText {
        code: "has_active_children",
        status: 409,
        title_en: "Unit has active units below it",
        title_vi: "Đơn vị còn đơn vị trực thuộc đang hoạt động",
        meaning_en: "A unit cannot be deactivated while active units remain below it; deactivate or move those units first.",
        meaning_vi: "Không thể ngừng hoạt động đơn vị khi còn đơn vị trực thuộc đang hoạt động; đề nghị ngừng hoạt động hoặc chuyển các đơn vị đó trước.",
    },
    ProblemText {
        code: "idempotency_in_flight",
        status: 409,
        title_en: "Request still in progress",
        title_vi: "Yêu cầu đang được xử lý",
        meaning_en: "A request with this Idempotency-Key is still being processed; wait for Retry-After and send the same request again to get its result.",
        meaning_vi: "Yêu cầu mang cùng mã Idempotency-Key đang được xử lý; đề nghị chờ giây lát (theo tiêu đề Retry-After) rồi gửi lại đúng yêu cầu đó để nhận kết quả.",
    },
    ProblemText {
        code: "idempotency_key_reused",
        status: 422,
        title_en: "Idempotency key reused",
        title_vi: "Mã Idempotency-Key đã dùng cho yêu cầu khác",
        meaning_en: "This Idempotency-Key was already used with a different request; use a new key for every new request.",
        meaning_vi: "Mã Idempotency-Key này đã được dùng cho một yêu cầu khác; đề nghị dùng mã mới cho mỗi yêu cầu mới.",
    },
    ProblemText {
        code: "idempotent_response_withheld",
        status: 409,
        title_en: "Stored response withheld",
        title_vi: "Không thể cung cấp lại kết quả đã xử lý",
        meaning_en: "The request with this Idempotency-Key already succeeded, but its response held a secret that is shown only once and never stored; read the created object, or issue a new secret if it was lost.",
        meaning_vi: "Yêu cầu mang mã Idempotency-Key này đã được xử lý thành công, nhưng kết quả có chứa mã bí mật chỉ hiển thị một lần và không được lưu lại; đề nghị tra cứu đối tượng đã tạo hoặc cấp lại mã bí mật nếu đã thất lạc.",
    },
    ProblemText {
        code: "if_match_required",
        status: 428,
        title_en: "If-Match header required",
        title_vi: "Thiếu tiêu đề If-Match",
        meaning_en: "Changing a report requires If-Match with the ETag of the report as last read; read the report and send its ETag.",
        meaning_vi: "Việc thay đổi báo cáo phải kèm tiêu đề If-Match chứa ETag của báo cáo tại lần tải gần nhất; đề nghị tải lại báo cáo và gửi kèm ETag đó.",
    },
    ProblemText {
        code: "illegal_transition",
        status: 409,
        title_en: "Action not allowed in the report's status",
        title_vi: "Thao tác không phù hợp với trạng thái của báo cáo",
        meaning_en: "The report's current status (given in current_status) does not allow this action, as only a submitted report can be accepted or returned and only an accepted one reopened; read the report again and act on its current status.",
        meaning_vi: "Trạng thái hiện tại của báo cáo không cho phép thao tác này, vì chỉ báo cáo đã gửi mới được tiếp nhận hoặc trả lại và chỉ báo cáo đã tiếp nhận mới được mở lại; đề nghị tải lại báo cáo để xem trạng thái hiện tại.",
    },
    ProblemText {
        code: "indicator_code_taken",
        status: 409,
        title_en: "Indicator code already in use",
        title_vi: "Mã chỉ tiêu đã được sử dụng",
        meaning_en: "The plan already has an indicator with this code; choose a different code.",
        meaning_vi: "Kế hoạch đã có chỉ tiêu mang mã này; đề nghị chọn mã khác.",
    },
    ProblemText {
        code: "indicator_fields_missing",
        status: 409,
        title_en: "Form lacks fields used by indicators",
        title_vi: "Biểu mẫu thiếu trường mà chỉ tiêu đang sử dụng",
        meaning_en: "The form lacks numeric fields that the plan's indicators use (listed in indicators); change those indicators first, then save the form.",
        meaning_vi: "Biểu mẫu thiếu các trường số liệu mà chỉ tiêu của kế hoạch đang sử dụng; đề nghị điều chỉnh các chỉ tiêu đó trước, sau đó lưu lại biểu mẫu.",
    },
    ProblemText {
        code: "internal_error",
        status: 500,
        title_en: "Internal error",
        title_vi: "Lỗi hệ thống",
        meaning_en: "An unexpected error occurred and has been logged; retry later and, if it persists, give the request_id to the administrator.",
        meaning_vi: "Đã xảy ra lỗi ngoài dự kiến và lỗi đã được ghi nhận; đề nghị thử lại sau, nếu vẫn gặp lỗi thì báo cho quản trị viên kèm mã yêu cầu (request_id).",
    },
    ProblemText {
        code: "invalid_character",
        status: 400,
        title_en: "Invalid character",
        title_vi: "Ký tự không hợp lệ",
        meaning_en: "A text value contains the NUL character (U+0000), which cannot be stored; remove it and send the request again.",
        meaning_vi: "Nội dung gửi lên có chứa ký tự NUL (U+0000) không lưu trữ được; đề nghị loại bỏ ký tự này và gửi lại yêu cầu.",
    },
    ProblemText {
        code: "invalid_client",
        status: 401,
        title_en: "Invalid client credentials",
        title_vi: "Thông tin xác thực ứng dụng kết nối không đúng",
        meaning_en: "The service client is unknown or inactive, or its secret is wrong; check client_id and client_secret.",
        meaning_vi: "Ứng dụng kết nối không tồn tại, đã ngừng hoạt động hoặc mã bí mật không đúng; đề nghị kiểm tra lại client_id và client_secret.",
    },
    ProblemText {
        code: "invalid_credentials",
        status: 401,
        title_en: "Incorrect username or password",
        title_vi: "Tên đăng nhập hoặc mật khẩu không đúng",
        meaning_en: "The username or password is not correct; check them and sign in again, bearing in mind that repeated failures are blocked for a while.",
        meaning_vi: "Tên đăng nhập hoặc mật khẩu không đúng; đề nghị kiểm tra lại và đăng nhập lại, lưu ý đăng nhập sai nhiều lần sẽ bị tạm khóa.",
    },
    ProblemText {
        code: "invalid_idempotency_key",
        status: 400,
        title_en: "Invalid idempotency key",
        title_vi: "Mã Idempotency-Key không hợp lệ",
        meaning_en: "The Idempotency-Key header must be 1 to 255 visible ASCII characters; send a valid key or none at all.",
        meaning_vi: "Tiêu đề Idempotency-Key phải gồm từ 1 đến 255 ký tự ASCII hiển thị được; đề nghị gửi mã hợp lệ hoặc bỏ tiêu đề này.",
    },
    ProblemText {
        code: "invalid_path",
        status: 400,
        title_en: "Invalid path parameter",
        title_vi: "Tham số đường dẫn không hợp lệ",
        meaning_en: "A value in the URL path is not in the expected form, for example an identifier that is not a UUID; correct the address.",
        meaning_vi: "Giá trị trong đường dẫn URL không đúng định dạng, chẳng hạn mã định danh không phải UUID; đề nghị kiểm tra lại địa chỉ.",
    },
    ProblemText {
        code: "invalid_query",
        status: 400,
        title_en: "Invalid query parameter",
        title_vi: "Tham số truy vấn không hợp lệ",
        meaning_en: "A query parameter has a value this endpoint does not accept; correct the parameter named in errors and send the request again.",
        meaning_vi: "Tham số truy vấn có giá trị không được chấp nhận; đề nghị sửa tham số được nêu trong danh sách lỗi và gửi lại yêu cầu.",
    },
    ProblemText {
        code: "invalid_refresh_token",
        status: 401,
        title_en: "Invalid refresh token",
        title_vi: "Mã làm mới không hợp lệ",
        meaning_en: "The refresh token is unknown, revoked or expired; sign in again with username and password.",
        meaning_vi: "Mã làm mới không đúng, đã bị thu hồi hoặc đã hết hạn; đề nghị đăng nhập lại bằng tên đăng nhập và mật khẩu.",
    },
    ProblemText {
        code: "invalid_request",
        status: 400,
        title_en: "Invalid token request",
        title_vi: "Yêu cầu cấp mã truy cập không hợp lệ",
        meaning_en: "The token request is malformed or lacks client_id and client_secret; send grant_type=client_credentials with the service client's credentials.",
        meaning_vi: "Yêu cầu cấp mã truy cập sai định dạng hoặc thiếu client_id và client_secret; đề nghị gửi grant_type=client_credentials kèm thông tin xác thực của ứng dụng kết nối.",
    },
    ProblemText {
        code: "invalid_token",
        status: 401,
        title_en: "Invalid or expired access token",
        title_vi: "Mã truy cập không hợp lệ hoặc đã hết hạn",
        meaning_en: "The access token is malformed, expired, not yet valid or not issued for this service; get a new one by refreshing or signing in again, then retry.",
        meaning_vi: "Mã truy cập sai định dạng, đã hết hạn, chưa có hiệu lực hoặc không do hệ thống này cấp; đề nghị lấy mã truy cập mới bằng mã làm mới hoặc đăng nhập lại, sau đó thử lại.",
    },
    ProblemText {
        code: "invalid_workbook",
        status: 422,
        title_en: "Not a report workbook",
        title_vi: "Tệp không phải bảng tính báo cáo",
        meaning_en: "The body is not an XLSX workbook made by this service's template; download the template of the report, fill it in and send it back.",
        meaning_vi: "Tệp gửi lên không phải bảng tính XLSX được tạo từ mẫu của hệ thống; đề nghị tải mẫu bảng tính của báo cáo, điền số liệu rồi gửi lại.",
    },
    ProblemText {
        code: "issuing_unit_not_expected",
        status: 422,
        title_en: "The issuing unit does not report",
        title_vi: "Đơn vị ban hành kế hoạch không thuộc diện báo cáo",
        meaning_en: "The unit issued the plan and compiles its reports, so it cannot be one of the units expected to report for its periods.",
        meaning_vi: "Đơn vị ban hành kế hoạch là đơn vị tổng hợp báo cáo nên không thuộc danh sách đơn vị phải báo cáo của các kỳ báo cáo theo kế hoạch đó.",
    },
    ProblemText {
        code: "malformed_body",
        status: 400,
        title_en: "Malformed request body",
        title_vi: "Nội dung yêu cầu không đúng định dạng",
        meaning_en: "The request body could not be read or decoded; check that it matches its Content-Type and send it again.",
        meaning_vi: "Không đọc được nội dung yêu cầu; đề nghị kiểm tra nội dung có khớp với kiểu dữ liệu khai báo trong Content-Type rồi gửi lại.",
    },
    ProblemText {
        code: "malformed_json",
        status: 400,
        title_en: "Malformed JSON",
        title_vi: "Dữ liệu JSON không hợp lệ",
        meaning_en: "The request body is not well-formed JSON; correct the syntax and send it again.",
        meaning_vi: "Nội dung yêu cầu không phải là JSON hợp lệ; đề nghị sửa lỗi cú pháp và gửi lại.",
    },
    ProblemText {
        code: "method_not_allowed",
        status: 405,
        title_en: "Method not allowed",
        title_vi: "Phương thức không được hỗ trợ",
        meaning_en: "This address does not support the HTTP method used; use one of the methods listed in the Allow header.",
        meaning_vi: "Địa chỉ này không hỗ trợ phương thức HTTP đã dùng; đề nghị dùng một trong các phương thức nêu trong tiêu đề Allow.",
    },
    ProblemText {
        code: "migrations_pending",
        status: 503,
        title_en: "Database migrations pending",
        title_vi: "Cơ sở dữ liệu chưa được nâng cấp",
        meaning_en: "The database schema is older than this version of the service; an operator must run `gereport migrate` before the service can answer.",
        meaning_vi: "Cấu trúc cơ sở dữ liệu chưa được nâng cấp theo phiên bản hiện hành của hệ thống; đề nghị bộ phận vận hành chạy lệnh `gereport migrate`.",
    },
    ProblemText {
        code: "missing_token",
        status: 401,
        title_en: "Access token required",
        title_vi: "Chưa cung cấp mã truy cập",
        meaning_en: "This endpoint requires an access token; sign in and send it as `Authorization: Bearer <token>`.",
        meaning_vi: "Chức năng này yêu cầu mã truy cập; đề nghị đăng nhập và gửi kèm mã truy cập trong tiêu đề `Authorization: Bearer <mã>`.",
    },
    ProblemText {
        code: "no_form",
        status: 409,
        title_en: "Plan has no report form",
        title_vi: "Kế hoạch chưa có biểu mẫu báo cáo",
        meaning_en: "The plan has no report form yet, so no report can be filled in and no indicator defined; save the plan's form first.",
        meaning_vi: "Kế hoạch chưa có biểu mẫu báo cáo nên chưa thể lập báo cáo hay xác định chỉ tiêu; đề nghị lưu biểu mẫu của kế hoạch trước.",
    },
    ProblemText {
        code: "not_acceptable",
        status: 406,
        title_en: "Format not available",
        title_vi: "Không hỗ trợ định dạng được yêu cầu",
        meaning_en: "The response is not available in the format asked for in Accept; ask for JSON, CSV, XLSX or DOCX.",
        meaning_vi: "Không cung cấp được dữ liệu theo định dạng yêu cầu trong tiêu đề Accept; đề nghị chọn một trong các định dạng JSON, CSV, XLSX hoặc DOCX.",
    },
    ProblemText {
        code: "not_editable",
        status: 409,
        title_en: "Report cannot be edited",
        title_vi: "Báo cáo không được phép chỉnh sửa",
        meaning_en: "Only a draft or returned report can be edited; a submitted or accepted report stays as it is until the coordinating office returns or reopens it.",
        meaning_vi: "Chỉ được chỉnh sửa báo cáo đang dự thảo hoặc đã bị trả lại; báo cáo đã gửi hoặc đã được tiếp nhận giữ nguyên cho đến khi phòng đầu mối trả lại hoặc mở lại.",
    },
    ProblemText {
        code: "not_found",
        status: 404,
        title_en: "Not found",
        title_vi: "Không tìm thấy dữ liệu",
        meaning_en: "The object does not exist or lies outside your scope; check the identifier.",
        meaning_vi: "Không tìm thấy đối tượng được yêu cầu hoặc đối tượng nằm ngoài phạm vi được phân quyền; đề nghị kiểm tra lại mã định danh.",
    },
    ProblemText {
        code: "origin_not_allowed",
        status: 403,
        title_en: "Origin not allowed",
        title_vi: "Nguồn truy cập không được phép",
        meaning_en: "A browser page on this origin may not call the API; an administrator adds the origin to GEREPORT_CORS_ORIGINS.",
        meaning_vi: "Trang web ở nguồn (origin) này không được phép gọi API; đề nghị quản trị viên bổ sung nguồn vào cấu hình GEREPORT_CORS_ORIGINS.",
    },
    ProblemText {
        code: "overloaded",
        status: 503,
        title_en: "Service busy",
        title_vi: "Hệ thống đang quá tải",
        meaning_en: "The service is busy checking other passwords; retry after the number of seconds given in Retry-After.",
        meaning_vi: "Hệ thống đang bận xử lý các yêu cầu kiểm tra mật khẩu khác; đề nghị thử lại sau ít giây (theo tiêu đề Retry-After).",
    },
    ProblemText {
        code: "parent_inactive",
        status: 409,
        title_en: "Parent unit inactive",
        title_vi: "Đơn vị cấp trên đã ngừng hoạt động",
        meaning_en: "A unit cannot be placed or reactivated under a deactivated unit; reactivate the parent first or choose another one.",
        meaning_vi: "Không thể đặt hoặc kích hoạt lại đơn vị trực thuộc một đơn vị đã ngừng hoạt động; đề nghị kích hoạt lại đơn vị cấp trên trước hoặc chọn đơn vị cấp trên khác.",
    },
    ProblemText {
        code: "period_code_taken",
        status: 409,
        title_en: "Period code already in use",
        title_vi: "Mã kỳ báo cáo đã được sử dụng",
        meaning_en: "The plan already has a reporting period with this code; choose a different code.",
        meaning_vi: "Kế hoạch đã có kỳ báo cáo mang mã này; đề nghị chọn mã khác.",
    },
    ProblemText {
        code: "period_locked",
        status: 409,
        title_en: "Reporting period locked",
        title_vi: "Kỳ báo cáo đã khóa",
        meaning_en: "The reporting period is locked, so units can no longer change their reports; ask the coordinating office to unlock it.",
        meaning_vi: "Kỳ báo cáo đã khóa nên đơn vị không thể thay đổi báo cáo; đề nghị liên hệ phòng đầu mối để mở khóa kỳ báo cáo.",
    },
    ProblemText {
        code: "referenced_object_missing",
        status: 409,
        title_en: "Referenced record missing or in use",
        title_vi: "Dữ liệu liên quan không tồn tại hoặc đang được sử dụng",
        meaning_en: "The request refers to a record that does not exist, or would remove one that other records still use; check the references.",
        meaning_vi: "Yêu cầu tham chiếu đến dữ liệu không tồn tại hoặc xóa dữ liệu mà dữ liệu khác vẫn đang sử dụng; đề nghị kiểm tra lại các liên kết.",
    },
    ProblemText {
        code: "refresh_token_reused",
        status: 401,
        title_en: "Refresh token already used",
        title_vi: "Mã làm mới đã được sử dụng",
        meaning_en: "This refresh token was already used, a sign that it may have been copied, so every session of this sign-in has been ended; sign in again.",
        meaning_vi: "Mã làm mới này đã được sử dụng trước đó, có dấu hiệu bị sao chép, nên mọi phiên làm việc của lần đăng nhập này đã bị chấm dứt; đề nghị đăng nhập lại.",
    },
    ProblemText {
        code: "report_not_started",
        status: 404,
        title_en: "Report not started",
        title_vi: "Báo cáo chưa được lập",
        meaning_en: "The unit has no report for this period yet; the first PUT of its values creates the draft.",
        meaning_vi: "Đơn vị chưa có báo cáo cho kỳ này; lần lưu (PUT) số liệu đầu tiên sẽ tạo bản dự thảo.",
    },
    ProblemText {
        code: "route_not_found",
        status: 404,
        title_en: "No such endpoint",
        title_vi: "Địa chỉ không tồn tại",
        meaning_en: "No endpoint matches this path; check the address against the API documentation.",
        meaning_vi: "Không có chức năng nào ứng với đường dẫn này; đề nghị kiểm tra lại địa chỉ theo tài liệu hướng dẫn API.",
    },
    ProblemText {
        code: "self_lockout",
        status: 409,
        title_en: "Cannot deactivate or demote yourself",
        title_vi: "Không thể tự vô hiệu hóa hoặc hạ quyền tài khoản của mình",
        meaning_en: "Administrators cannot deactivate their own account or change their own role; ask another administrator to do it.",
        meaning_vi: "Quản trị viên không thể tự vô hiệu hóa hoặc thay đổi vai trò tài khoản của chính mình; đề nghị nhờ quản trị viên khác thực hiện.",
    },
    ProblemText {
        code: "stale_etag",
        status: 412,
        title_en: "Report changed since it was read",
        title_vi: "Báo cáo đã thay đổi kể từ lần tải gần nhất",
        meaning_en: "The report is no longer as your If-Match describes, because it was changed or created meanwhile; read it again, reapply your change and send the new ETag.",
        meaning_vi: "Báo cáo không còn khớp với giá trị If-Match đã gửi do vừa được thay đổi hoặc khởi tạo; đề nghị tải lại báo cáo, thực hiện lại thay đổi và gửi kèm ETag mới.",
    },
    ProblemText {
        code: "task_code_taken",
        status: 409,
        title_en: "Task code already used",
        title_vi: "Mã nhiệm vụ đã được sử dụng",
        meaning_en: "The plan already has a task with this code; choose another code or change the existing task.",
        meaning_vi: "Kế hoạch đã có nhiệm vụ mang mã này; đề nghị chọn mã khác hoặc sửa nhiệm vụ hiện có.",
    },
    ProblemText {
        code: "task_in_use",
        status: 409,
        title_en: "Task already reported on",
        title_vi: "Nhiệm vụ đã được báo cáo",
        meaning_en: "Units have reported progress on this task (in a draft or a submitted revision), so its code cannot change and it cannot be deleted; change its other details instead.",
        meaning_vi: "Các đơn vị đã báo cáo tiến độ nhiệm vụ này (trong bản nháp hoặc bản đã gửi) nên không thể đổi mã hoặc xóa nhiệm vụ; đề nghị chỉ sửa các nội dung khác.",
    },
    ProblemText {
        code: "too_many_attempts",
        status: 429,
        title_en: "Too many failed attempts",
        title_vi: "Xác thực sai quá số lần cho phép",
        meaning_en: "Too many failed sign-in or password attempts were made; wait the number of seconds given in Retry-After before trying again.",
        meaning_vi: "Đã nhập sai thông tin xác thực quá số lần cho phép; đề nghị chờ hết thời gian tạm khóa (theo tiêu đề Retry-After) rồi thử lại.",
    },
    ProblemText {
        code: "too_many_rows",
        status: 413,
        title_en: "Too many rows for the format",
        title_vi: "Số dòng vượt quá giới hạn của định dạng",
        meaning_en: "The data asked for has more rows than one XLSX sheet holds; ask for CSV or NDJSON, or narrow the filters.",
        meaning_vi: "Dữ liệu yêu cầu có nhiều dòng hơn giới hạn của một trang tính XLSX; đề nghị tải dạng CSV hoặc NDJSON, hoặc thu hẹp điều kiện lọc.",
    },
    ProblemText {
        code: "unit_inactive",
        status: 409,
        title_en: "Unit inactive",
        title_vi: "Đơn vị đã ngừng hoạt động",
        meaning_en: "The unit has been deactivated and no longer reports, though its past reports stay readable; ask an administrator to reactivate it if this is wrong.",
        meaning_vi: "Đơn vị đã ngừng hoạt động nên không còn thực hiện báo cáo, các báo cáo trước đây vẫn được tra cứu bình thường; đề nghị liên hệ quản trị viên nếu cần kích hoạt lại.",
    },
    ProblemText {
        code: "unit_outside_plan",
        status: 422,
        title_en: "Unit outside the plan's tree",
        title_vi: "Đơn vị không thuộc phạm vi kế hoạch",
        meaning_en: "Only the units under the plan's issuing unit can be expected to report for its periods; choose a unit of that tree.",
        meaning_vi: "Chỉ các đơn vị trực thuộc đơn vị ban hành kế hoạch mới thuộc danh sách đơn vị phải báo cáo của các kỳ báo cáo theo kế hoạch; đề nghị chọn đơn vị thuộc phạm vi này.",
    },
    ProblemText {
        code: "unsupported_file_type",
        status: 415,
        title_en: "Unsupported file type",
        title_vi: "Loại tệp không được hỗ trợ",
        meaning_en: "The file's bytes are not a PDF, JPEG, PNG, DOCX or XLSX file; attach one of those types.",
        meaning_vi: "Nội dung tệp không phải PDF, JPEG, PNG, DOCX hoặc XLSX; đề nghị đính kèm tệp thuộc một trong các loại này.",
    },
    ProblemText {
        code: "unsupported_grant_type",
        status: 400,
        title_en: "Unsupported grant type",
        title_vi: "Hình thức cấp mã truy cập không được hỗ trợ",
        meaning_en: "The token endpoint supports only grant_type=client_credentials, for service clients; people sign in at /api/v1/auth/login.",
        meaning_vi: "Địa chỉ cấp mã truy cập chỉ hỗ trợ grant_type=client_credentials dành cho ứng dụng kết nối; người dùng đăng nhập tại /api/v1/auth/login.",
    },
    ProblemText {
        code: "unsupported_media_type",
        status: 415,
        title_en: "Unsupported content type",
        title_vi: "Kiểu nội dung không được hỗ trợ",
        meaning_en: "This endpoint does not accept the body's Content-Type; send application/json, or the type the endpoint documents.",
        meaning_vi: "Kiểu nội dung (Content-Type) của yêu cầu không được chấp nhận; đề nghị gửi dữ liệu dạng application/json hoặc đúng kiểu nêu trong tài liệu hướng dẫn API.",
    },
    ProblemText {
        code: "username_taken",
        status: 409,
        title_en: "Username already taken",
        title_vi: "Tên đăng nhập đã được sử dụng",
        meaning_en: "Another account already uses this username; choose a different one.",
        meaning_vi: "Tên đăng nhập này đã được tài khoản khác sử dụng; đề nghị chọn tên đăng nhập khác.",
    },
    ProblemText {
        code: "validation_failed",
        status: 422,
        title_en: "Validation failed",
        title_vi: "Dữ liệu không hợp lệ",
        meaning_en: "One or more values break the rules; correct each field named in errors and send the request again.",
        meaning_vi: "Một hoặc nhiều giá trị không đáp ứng yêu cầu; đề nghị sửa các trường được nêu trong danh sách lỗi và gửi lại.",
    },
    ProblemText {
        code: "webhook_disabled",
        status: 409,
        title_en: "Webhook endpoint disabled",
        title_vi: "Điểm nhận webhook đang bị tắt",
        meaning_en: "The webhook endpoint is disabled, so nothing is sent to it; enable it again (PATCH with enabled: true) and retry.",
        meaning_vi: "Điểm nhận webhook đang bị tắt nên hệ thống không gửi dữ liệu tới; đề nghị bật lại (PATCH với enabled: true) rồi thực hiện lại.",
    },
    ProblemText {
        code: "workbook_form_mismatch",
        status: 409,
        title_en: "Workbook of another form version",
        title_vi: "Bảng tính thuộc phiên bản biểu mẫu khác",
        meaning_en: "The workbook was made from another version of the report form than the report uses; download the template again and copy the figures into it.",
        meaning_vi: "Bảng tính được tạo từ phiên bản biểu mẫu khác với phiên bản báo cáo đang dùng; đề nghị tải lại mẫu bảng tính và nhập lại số liệu.",
    },
];

pub const ISSUES: &[IssueText] = &[
    IssueText {
        code: "duplicate",
        message_en: "Already used by another record",
        message_vi: "Giá trị đã được sử dụng cho dữ liệu khác",
    },
    IssueText {
        code: "duplicate_code",
        message_en: "This code is already used elsewhere in the form",
        message_vi: "Mã này đã được dùng ở vị trí khác trong biểu mẫu",
    },
    IssueText {
        code: "duplicate_option",
        message_en: "The same option is chosen more than once",
        message_vi: "Một lựa chọn được chọn nhiều lần",
    },
    IssueText {
        code: "duplicate_target",
        message_en: "The indicator already has a target for this year from this source",
        message_vi: "Chỉ tiêu đã có mục tiêu của năm này theo cùng nguồn",
    },
    IssueText {
        code: "duplicate_task",
        message_en: "The task is reported on more than once in the report",
        message_vi: "Nhiệm vụ được báo cáo nhiều lần trong cùng một báo cáo",
    },
    IssueText {
        code: "empty",
        message_en: "Must not be empty",
        message_vi: "Không được để trống",
    },
    IssueText {
        code: "formula_type_mismatch",
        message_en: "The formula uses a field in a way its type does not allow (numbers are summed or compared, yes/no fields stand alone or `== false`, choice fields `== \"option\"`, multi-choice fields `has \"option\"`)",
        message_vi: "Công thức dùng trường không đúng với kiểu dữ liệu của trường (trường số để cộng hoặc so sánh, trường có/không ghi riêng hoặc `== false`, trường chọn một `== \"mã\"`, trường chọn nhiều `has \"mã\"`)",
    },
    IssueText {
        code: "invalid_bounds",
        message_en: "The limits are inconsistent or do not apply to this type of field",
        message_vi: "Giới hạn không hợp lý hoặc không áp dụng cho loại trường này",
    },
    IssueText {
        code: "invalid_character",
        message_en: "Must not contain the NUL character (U+0000)",
        message_vi: "Không được chứa ký tự NUL (U+0000)",
    },
    IssueText {
        code: "invalid_code",
        message_en: "The code does not follow the required format",
        message_vi: "Mã không đúng định dạng quy định",
    },
    IssueText {
        code: "invalid_date",
        message_en: "Must be a real date written YYYY-MM-DD",
        message_vi: "Phải là ngày hợp lệ, viết theo định dạng năm-tháng-ngày (YYYY-MM-DD)",
    },
    IssueText {
        code: "invalid_email",
        message_en: "Not a valid e-mail address",
        message_vi: "Địa chỉ thư điện tử không hợp lệ",
    },
    IssueText {
        code: "invalid_formula",
        message_en: "The formula cannot be read",
        message_vi: "Công thức tính không đúng cú pháp",
    },
    IssueText {
        code: "invalid_length",
        message_en: "The length is outside the allowed range",
        message_vi: "Độ dài không nằm trong giới hạn cho phép",
    },
    IssueText {
        code: "invalid_logic",
        message_en: "The field's condition, computation or change check does not fit the form",
        message_vi: "Điều kiện, công thức tính hoặc ngưỡng kiểm tra của trường không phù hợp với biểu mẫu",
    },
    IssueText {
        code: "invalid_pair",
        message_en: "The total and the number of women must be two different fields",
        message_vi: "Tổng số và số nữ phải là hai trường khác nhau",
    },
    IssueText {
        code: "invalid_url",
        message_en: "Not an acceptable URL (an https:// address is expected)",
        message_vi: "Địa chỉ URL không hợp lệ (yêu cầu địa chỉ https://)",
    },
    IssueText {
        code: "invalid_username",
        message_en: "Use 2 to 64 lower-case letters, digits, `_`, `.` or `-`",
        message_vi: "Tên đăng nhập gồm 2 đến 64 ký tự: chữ thường không dấu, chữ số, `_`, `.` hoặc `-`",
    },
    IssueText {
        code: "invalid_value",
        message_en: "The value is not valid here",
        message_vi: "Giá trị không hợp lệ",
    },
    IssueText {
        code: "invalid_window",
        message_en: "Neither the end of the data window nor the due date may fall before its start",
        message_vi: "Ngày kết thúc và hạn gửi báo cáo không được sớm hơn ngày bắt đầu của khoảng thời gian lấy số liệu",
    },
    IssueText {
        code: "lead_unit_only",
        message_en: "Only the lead unit gives a task's status; a cooperating unit adds a note",
        message_vi: "Chỉ đơn vị chủ trì báo cáo trạng thái nhiệm vụ; đơn vị phối hợp chỉ ghi ý kiến",
    },
    IssueText {
        code: "missing_field",
        message_en: "A required member is missing",
        message_vi: "Thiếu trường bắt buộc",
    },
    IssueText {
        code: "missing_options",
        message_en: "Choice fields need at least one option",
        message_vi: "Trường chọn một hoặc chọn nhiều phải có ít nhất một lựa chọn",
    },
    IssueText {
        code: "missing_sheet",
        message_en: "The workbook lacks a sheet of the form; download the template again",
        message_vi: "Bảng tính thiếu một trang của biểu mẫu; đề nghị tải lại mẫu bảng tính",
    },
    IssueText {
        code: "not_your_task",
        message_en: "The unit neither leads nor helps with this task",
        message_vi: "Đơn vị không chủ trì cũng không phối hợp thực hiện nhiệm vụ này",
    },
    IssueText {
        code: "out_of_range",
        message_en: "The value is outside the allowed limits",
        message_vi: "Giá trị vượt quá giới hạn cho phép",
    },
    IssueText {
        code: "private_target",
        message_en: "The address is on this machine or a private network, where webhooks are not sent",
        message_vi: "Địa chỉ thuộc máy chủ này hoặc mạng nội bộ, hệ thống không gửi webhook tới đó",
    },
    IssueText {
        code: "required",
        message_en: "This field is required",
        message_vi: "Trường này là bắt buộc",
    },
    IssueText {
        code: "rule_failed",
        message_en: "The value fails a check rule of the form",
        message_vi: "Giá trị không thỏa mãn quy tắc kiểm tra của biểu mẫu",
    },
    IssueText {
        code: "same_year",
        message_en: "A plan is copied to another year than its own",
        message_vi: "Kế hoạch chỉ được sao chép sang năm khác với năm của kế hoạch gốc",
    },
    IssueText {
        code: "task_not_in_period",
        message_en: "The task is not reported on in this period",
        message_vi: "Nhiệm vụ không thuộc kỳ báo cáo này",
    },
    IssueText {
        code: "task_status_missing",
        message_en: "The unit leads this task in the period and must give its status",
        message_vi: "Đơn vị chủ trì nhiệm vụ trong kỳ nên phải báo cáo trạng thái thực hiện",
    },
    IssueText {
        code: "too_long",
        message_en: "Longer than allowed",
        message_vi: "Vượt quá độ dài cho phép",
    },
    IssueText {
        code: "too_many_items",
        message_en: "The list has more items than allowed",
        message_vi: "Danh sách vượt quá số dòng cho phép",
    },
    IssueText {
        code: "too_short",
        message_en: "Shorter than allowed",
        message_vi: "Chưa đạt độ dài tối thiểu",
    },
    IssueText {
        code: "type_mismatch",
        message_en: "The fields referred to are of types that cannot be used together here",
        message_vi: "Kiểu dữ liệu của các trường được tham chiếu không tương thích",
    },
    IssueText {
        code: "unexpected_options",
        message_en: "Only choice and multi-choice fields take options",
        message_vi: "Chỉ trường chọn một hoặc chọn nhiều mới có danh sách lựa chọn",
    },
    IssueText {
        code: "unit_inactive",
        message_en: "The unit has been deactivated",
        message_vi: "Đơn vị đã ngừng hoạt động",
    },
    IssueText {
        code: "unknown_field",
        message_en: "The form has no such field",
        message_vi: "Biểu mẫu không có trường này",
    },
    IssueText {
        code: "unknown_list",
        message_en: "The form has no such repeatable list",
        message_vi: "Biểu mẫu không có danh sách này",
    },
    IssueText {
        code: "unknown_option",
        message_en: "Not one of the field's options",
        message_vi: "Không thuộc các lựa chọn của trường",
    },
    IssueText {
        code: "unknown_reference",
        message_en: "Refers to a field that does not exist",
        message_vi: "Tham chiếu đến trường không tồn tại",
    },
    IssueText {
        code: "unknown_task",
        message_en: "The plan has no task with this code",
        message_vi: "Kế hoạch không có nhiệm vụ mang mã này",
    },
    IssueText {
        code: "unknown_unit",
        message_en: "No such unit within your scope",
        message_vi: "Không tìm thấy đơn vị trong phạm vi được phân quyền",
    },
    IssueText {
        code: "unknown_variant",
        message_en: "Not one of the allowed values",
        message_vi: "Giá trị không thuộc danh sách được phép",
    },
    IssueText {
        code: "unusual_change",
        message_en: "The value moved more from the previous period than the form expects; please check it",
        message_vi: "Số liệu thay đổi so với kỳ trước nhiều hơn mức biểu mẫu dự kiến; đề nghị kiểm tra lại",
    },
    IssueText {
        code: "weak_password",
        message_en: "The password is too weak; choose a longer, less predictable one",
        message_vi: "Mật khẩu chưa đủ mạnh; đề nghị chọn mật khẩu dài hơn và khó đoán hơn",
    },
    IssueText {
        code: "wrong_password",
        message_en: "The current password is not correct",
        message_vi: "Mật khẩu hiện tại không đúng",
    },
    IssueText {
        code: "wrong_type",
        message_en: "The value is of the wrong type",
        message_vi: "Giá trị không đúng kiểu dữ liệu",
    },
];

/// The texts of a problem code.
pub fn problem(code: &str) -> Option<&'static ProblemText> {
    PROBLEMS
        .binary_search_by(|t| t.code.cmp(code))
        .ok()
        .and_then(|i| PROBLEMS.get(i))
}

/// The texts of an issue code.
pub fn issue(code: &str) -> Option<&'static IssueText> {
    ISSUES
        .binary_search_by(|t| t.code.cmp(code))
        .ok()
        .and_then(|i| ISSUES.get(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code has a title and a sentence in both languages, and the Vietnamese is
    /// not the English left untranslated. Sorted and unique, as the lookups need.
    #[test]
    fn every_code_is_translated() {
        for pair in PROBLEMS.windows(2) {
            assert!(pair[0].code < pair[1].code, "{} out of order", pair[1].code);
        }
        for pair in ISSUES.windows(2) {
            assert!(pair[0].code < pair[1].code, "{} out of order", pair[1].code);
        }
        for t in PROBLEMS {
            for text in [t.title_en, t.title_vi, t.meaning_en, t.meaning_vi] {
                assert!(!text.trim().is_empty(), "{}: empty text", t.code);
            }
            assert_ne!(t.title_en, t.title_vi, "{}: title not translated", t.code);
            assert_ne!(
                t.meaning_en, t.meaning_vi,
                "{}: meaning not translated",
                t.code
            );
            assert!(
                (400..600).contains(&t.status),
                "{}: status {}",
                t.code,
                t.status
            );
            assert!(problem(t.code).is_some());
        }
        for t in ISSUES {
            assert!(!t.message_en.trim().is_empty() && !t.message_vi.trim().is_empty());
            assert_ne!(t.message_en, t.message_vi, "{}: not translated", t.code);
            assert!(issue(t.code).is_some());
        }
        assert!(problem("no_such_code").is_none());
    }
}
