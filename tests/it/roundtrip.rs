//! CSV → Parquet → CSV keeps values and types; thread counts do not change a byte.

use super::{anonymize, root, stderr, write_job};

fn keep_all_job(input: &str, output: &str) -> String {
    let names = super::column_names(&root().join("sample_data/customers.csv"));
    let mut job = format!(
        "version: 1\nname: roundtrip\ninput:\n  path: {input}\n  types: {{ zip: string }}\noutput:\n  path: {output}\ncolumns:\n"
    );
    for n in names {
        job.push_str(&format!("  {n}: keep\n"));
    }
    job
}

#[test]
fn csv_to_parquet_to_csv_keeps_values_and_types() {
    let dir = tempfile::tempdir().unwrap();
    let original = root().join("sample_data/customers.csv");
    write_job(dir.path(), "a.yaml", &keep_all_job(original.to_str().unwrap(), "mid.parquet"));
    write_job(dir.path(), "b.yaml", &keep_all_job("mid.parquet", "back.csv").replace("  types: { zip: string }\n", ""));
    for job in ["a.yaml", "b.yaml"] {
        let output = anonymize(dir.path(), &["run", job, "--quiet"]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    }
    let schema = anonymize::io::parquet::read_schema(&dir.path().join("mid.parquet")).unwrap();
    let types: Vec<String> = schema.fields().iter().map(|f| format!("{}:{}", f.name(), f.data_type())).collect();
    assert_eq!(
        types,
        [
            "customer_id:Int64",
            "full_name:Utf8",
            "email:Utf8",
            "phone:Utf8",
            "birth_date:Date32",
            "zip:Utf8",
            "gender:Utf8",
            "city:Utf8",
            "income:Int64",
            "spend_90d:Float64",
            "segment:Utf8",
            "card_number:Utf8",
            "signup_date:Date32",
            "consent_analytics:Boolean"
        ]
    );
    let before = std::fs::read_to_string(&original).unwrap();
    let after = std::fs::read_to_string(dir.path().join("back.csv")).unwrap();
    assert_eq!(before.lines().count(), 5001);
    assert!(before == after, "the CSV changed in the round trip");
}

#[test]
fn thread_count_does_not_change_a_byte() {
    let dir = tempfile::tempdir().unwrap();
    let generated = anonymize(dir.path(), &["sample", "--rows", "60000", "--out", "big.parquet", "--seed", "9"]);
    assert_eq!(generated.status.code(), Some(0), "{}", stderr(&generated));
    let job = |output: &str| {
        super::main_job_text("job", output)
            .replace(root().join("sample_data/customers.csv").to_str().unwrap(), "big.parquet")
            .replace("  types:\n    zip: string\n", "")
    };
    // One job file (its hash is part of the seeded run id), run with several thread counts.
    for format in ["parquet", "csv"] {
        write_job(dir.path(), "job.yaml", &job(&format!("out.{format}")));
        let mut outputs = Vec::new();
        for threads in ["1", "2", "3"] {
            let output = anonymize(dir.path(), &["run", "job.yaml", "--threads", threads, "--quiet", "--seed", "1"]);
            assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
            outputs.push(std::fs::read(dir.path().join(format!("out.{format}"))).unwrap());
        }
        assert!(outputs[0] == outputs[1], "{format} differs between 1 and 2 threads");
        assert!(outputs[0] == outputs[2], "{format} differs between 1 and 3 threads");
    }
    assert!(super::cells(&dir.path().join("out.csv")).len() > 50_000);
}
