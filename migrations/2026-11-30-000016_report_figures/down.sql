DROP TRIGGER report_figures_keep ON reports;
DROP FUNCTION report_figures_keep();
DROP FUNCTION report_figures_extract(reports);
DROP FUNCTION report_value_layout(text[]);
DROP TABLE report_figures;
DROP TABLE report_value_layouts;
