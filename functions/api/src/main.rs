//! The `api` Lambda function: the bootstrap's Docket behind the router, serving API Gateway HTTP
//! API events.

use docket_api::{AppState, Authenticator, router};
use docket_lambda::Bootstrap;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let aws = Bootstrap::start(&[]).await?;
    let app = router(AppState { docket: aws.docket(), authenticator: Authenticator::ApiGateway });
    lambda_http::run(app).await
}
